-- Run once by the postgres image on an empty data volume
-- (/docker-entrypoint-initdb.d), as the superuser POSTGRES_USER=ler.
-- One database per service (each service owns its schema), plus ler_test,
-- which POSTGRES_DB already creates; the same set deploy/local/postgres.sh makes.
CREATE DATABASE ler_issuance OWNER ler;
CREATE DATABASE ler_wallet OWNER ler;
CREATE DATABASE ler_verification OWNER ler;
CREATE DATABASE ler_intake OWNER ler;
