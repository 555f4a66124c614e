-- Green's new schema: bigint keys, a renamed column, a computed one.
CREATE TABLE accounts (id bigint PRIMARY KEY, full_name text NOT NULL, email text NOT NULL, email_domain text NOT NULL, created_at timestamptz NOT NULL);
CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint NOT NULL, total numeric(12,2) NOT NULL, placed_at timestamptz NOT NULL);
CREATE SEQUENCE orders_id_seq OWNED BY orders.id;
ALTER TABLE orders ALTER COLUMN id SET DEFAULT nextval('orders_id_seq');
