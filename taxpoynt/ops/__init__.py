"""Operations: /healthz, /readyz, worker heartbeats per queue, the encryption
key rotation and demo-data commands."""
