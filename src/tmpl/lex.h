/* lex.h - Go text/template's lexer items (private to src/tmpl). */
#ifndef TMPL_LEX_H
#define TMPL_LEX_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum item_type {
    IT_ERROR,
    IT_BOOL,
    IT_CHAR,
    IT_CHAR_CONSTANT,
    IT_COMMENT,
    IT_ASSIGN,
    IT_DECLARE,
    IT_EOF,
    IT_FIELD,
    IT_IDENTIFIER,
    IT_LEFT_DELIM,
    IT_LEFT_PAREN,
    IT_NUMBER,
    IT_PIPE,
    IT_RAW_STRING,
    IT_RIGHT_DELIM,
    IT_RIGHT_PAREN,
    IT_SPACE,
    IT_STRING,
    IT_TEXT,
    IT_VARIABLE,
    IT_KEYWORD, /* keywords after this */
    IT_BLOCK,
    IT_BREAK,
    IT_CONTINUE,
    IT_DOT,
    IT_DEFINE,
    IT_ELSE,
    IT_END,
    IT_IF,
    IT_NIL,
    IT_RANGE,
    IT_TEMPLATE,
    IT_WITH,
};

struct item {
    enum item_type type;
    uint32_t pos;
    int line;
    const char *s; /* into the source (the message for IT_ERROR) */
    size_t n;
};

struct lex_items {
    struct item *items;
    size_t n, cap;
    char err[160];
};

/* Lex the whole input; the last item is IT_EOF or IT_ERROR. */
void lex_run(const char *in, size_t len, const char *ld, const char *rd, struct lex_items *out);
void lex_items_release(struct lex_items *it);

#endif
