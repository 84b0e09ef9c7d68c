"""Everything that talks to FIRS (the NRS e-invoicing platform, MBS).

- `codes`: the protocol facts as data (paths, messages, code lists), with the
  UNCONFIRMED ones marked; every other module reads them from there.
  `resources/` holds FIRS's recorded code-list answers that `codes` loads.
- `irn`: building and checking the Invoice Reference Number.
- `stamp`: the cryptographic stamp (RSA encryption of ``irn.ts`` + certificate).
- `qr`: the stamp rendered as a QR code for the printed invoice.
- `client`: the HTTP client (envelopes, error mapping, Exchange records).
- `breaker`: the circuit breaker the client consults per upstream.
- `sandbox/`: a local FIRS sandbox reproducing the real one's behaviour.

The payload builder (`payload.py`) belongs to the documents piece.
"""
