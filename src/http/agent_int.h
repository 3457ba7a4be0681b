/* agent_int.h - the /v1/agent handlers defined in agent_local.c, listed in
 * agent.c's route table. */
#ifndef HTTP_AGENT_INT_H
#define HTTP_AGENT_INT_H

#include "http/http_int.h"

void http_agent_services(struct http_req *r);
void http_agent_service(struct http_req *r); /* GET service/:id (hash blocking) */
void http_agent_service_register(struct http_req *r);
void http_agent_service_deregister(struct http_req *r);
void http_agent_service_maintenance(struct http_req *r);
void http_agent_checks(struct http_req *r);
void http_agent_check_register(struct http_req *r);
void http_agent_check_deregister(struct http_req *r);
void http_agent_check_pass(struct http_req *r);
void http_agent_check_warn(struct http_req *r);
void http_agent_check_fail(struct http_req *r);
void http_agent_check_update(struct http_req *r);
void http_agent_maintenance(struct http_req *r);
void http_agent_reload(struct http_req *r);
void http_agent_join(struct http_req *r);
void http_agent_leave(struct http_req *r);
void http_agent_force_leave(struct http_req *r);
void http_agent_metrics(struct http_req *r);
void http_agent_health_service_id(struct http_req *r);
void http_agent_health_service_name(struct http_req *r);

#endif
