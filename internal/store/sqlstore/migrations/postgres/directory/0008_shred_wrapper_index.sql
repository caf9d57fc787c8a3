-- Shred secrets are re-wrapped under each period's erasure key: the ones
-- still wrapped under an earlier period are found from this index.

CREATE INDEX shred_secrets_wrapper ON shred_secrets (wrapper);
