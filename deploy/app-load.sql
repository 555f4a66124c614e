-- The sample application's load for pgbench (docker-compose.yml's usage line): each
-- transaction renames a user and places an order, through PgBouncer.
\set uid random(1, 10000)
\set cents random(100, 50000)
BEGIN;
UPDATE users SET name = 'user ' || :uid || ' at ' || clock_timestamp() WHERE id = :uid;
INSERT INTO orders (user_id, total) VALUES (:uid, :cents / 100.0);
END;
