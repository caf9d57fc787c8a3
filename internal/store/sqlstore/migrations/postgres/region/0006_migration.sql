-- Moving accounts between regions, PostgreSQL: AccountsByCountry lists a
-- country's accounts from this index alone, in id order.

CREATE INDEX accounts_country ON accounts (country, id);
