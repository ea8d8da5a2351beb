-- finsent's database and its two roles, run once by psql as a superuser (on compose's first start
-- of the Postgres volume, deploy/postgres/10-finsent-roles.sh does it). psql variables:
--   db, owner, owner_password, app, app_password
--
-- `owner` owns the database and its `public` schema: only `finsent db upgrade` (the compose
-- `migrate` service) connects as it, for the migrations' DDL. `app` is what every other service
-- connects as: it may read and write rows and use sequences, nothing else (no DDL, no TRUNCATE,
-- no temporary tables, not a superuser, cannot create roles or databases). Tables the migrations
-- create later are covered by the default privileges below.

CREATE ROLE :"owner" LOGIN PASSWORD :'owner_password' NOSUPERUSER NOCREATEDB NOCREATEROLE;
CREATE ROLE :"app" LOGIN PASSWORD :'app_password' NOSUPERUSER NOCREATEDB NOCREATEROLE;
CREATE DATABASE :"db" OWNER :"owner";
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"db" TO :"app";

\connect :"db"
ALTER SCHEMA public OWNER TO :"owner";
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO :"app";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO :"app";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public
    GRANT USAGE, SELECT ON SEQUENCES TO :"app";
