-- Blue's sample application: users and orders with int keys, some rows to copy.
CREATE TABLE users (id int PRIMARY KEY, name text NOT NULL, email text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE orders (id serial PRIMARY KEY, user_id int NOT NULL REFERENCES users, total numeric(12,2) NOT NULL, placed_at timestamptz NOT NULL DEFAULT now());
INSERT INTO users SELECT g, 'user ' || g, 'user' || g || '@example.com' FROM generate_series(1, 10000) g;
INSERT INTO orders (user_id, total) SELECT 1 + g % 10000, (g % 500) + 0.99 FROM generate_series(1, 50000) g;
