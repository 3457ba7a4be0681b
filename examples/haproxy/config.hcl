# consul-template configuration for the haproxy example, as a production host
# would run it:   cairn template -config /etc/cairn/haproxy-template.hcl
# (consul-template reads this file unchanged.)

consul {
  address = "127.0.0.1:8500"
  # token = "..."         # or CONSUL_HTTP_TOKEN in the environment

  retry {
    enabled     = true
    attempts    = 0       # 0: keep retrying while the agent restarts; the file keeps its last content
    backoff     = "250ms"
    max_backoff = "10s"
  }
}

# Deploys change many instances at once: wait for 500 ms of quiet (at most
# 2 s) before rendering, so haproxy reloads once per burst, not per instance.
wait {
  min = "500ms"
  max = "2s"
}

# systemd stops services with SIGTERM, which consul-template (and so cairn
# template) ignores by default; make it the stop signal.
kill_signal = "SIGTERM"

template {
  source          = "/etc/cairn/haproxy.ctmpl"
  destination     = "/etc/haproxy/haproxy.cfg"
  perms           = 0644
  backup          = true  # the previous file stays as haproxy.cfg.bak
  # check first, so a bad render never reaches the running haproxy
  command         = "haproxy -c -q -f /etc/haproxy/haproxy.cfg && systemctl reload haproxy"
  command_timeout = "30s"
}
