"""Operations support: Prometheus metrics, the call context of log lines."""
