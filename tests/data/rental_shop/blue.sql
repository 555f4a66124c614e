-- A film rental shop, the application the suite moves: written for cutover's tests.
-- Blue: integer keys, a domain, an enum, arrays, full-text search, a range-partitioned
-- payment table, last_update triggers on every table, views, and serial sequences.
CREATE DOMAIN year4 AS integer CHECK (VALUE BETWEEN 1888 AND 2100);
CREATE TYPE age_rating AS ENUM ('all', '7+', '12+', '16+', '18+');

CREATE FUNCTION touch_last_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.last_update := now();
  RETURN NEW;
END $$;

CREATE TABLE country (country_id serial PRIMARY KEY, country text NOT NULL, last_update timestamptz NOT NULL DEFAULT now());
CREATE TABLE city (city_id serial PRIMARY KEY, city text NOT NULL, country_id int NOT NULL REFERENCES country,
                   last_update timestamptz NOT NULL DEFAULT now());
CREATE TABLE address (address_id serial PRIMARY KEY, line1 text NOT NULL, line2 text, district text,
                      city_id int NOT NULL REFERENCES city, postal_code varchar(10), phone varchar(20),
                      last_update timestamptz NOT NULL DEFAULT now());
CREATE TABLE language (language_id smallserial PRIMARY KEY, name char(20) NOT NULL,
                       last_update timestamptz NOT NULL DEFAULT now());
CREATE TABLE category (category_id smallserial PRIMARY KEY, name varchar(25) NOT NULL,
                       last_update timestamptz NOT NULL DEFAULT now());
CREATE TABLE actor (actor_id serial PRIMARY KEY, first_name text NOT NULL, last_name text NOT NULL,
                    last_update timestamptz NOT NULL DEFAULT now());
CREATE TABLE film (film_id serial PRIMARY KEY, title text NOT NULL, description text, release_year year4,
                   language_id smallint NOT NULL REFERENCES language, rental_days smallint NOT NULL DEFAULT 3,
                   rental_rate numeric(4,2) NOT NULL DEFAULT 4.99, length_minutes smallint,
                   replacement_cost numeric(5,2) NOT NULL DEFAULT 19.99, rating age_rating DEFAULT 'all',
                   special_features text[], fulltext tsvector NOT NULL,
                   last_update timestamptz NOT NULL DEFAULT now());
CREATE TABLE film_actor (actor_id int NOT NULL REFERENCES actor, film_id int NOT NULL REFERENCES film,
                         last_update timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (actor_id, film_id));
CREATE TABLE film_category (film_id int NOT NULL REFERENCES film, category_id smallint NOT NULL REFERENCES category,
                            last_update timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (film_id, category_id));
CREATE TABLE store (store_id serial PRIMARY KEY, manager_staff_id int, address_id int NOT NULL REFERENCES address,
                    last_update timestamptz NOT NULL DEFAULT now());
CREATE TABLE staff (staff_id serial PRIMARY KEY, first_name text NOT NULL, last_name text NOT NULL,
                    address_id int NOT NULL REFERENCES address, email text, store_id int NOT NULL REFERENCES store,
                    active boolean NOT NULL DEFAULT true, username text NOT NULL, password_hash bytea,
                    last_update timestamptz NOT NULL DEFAULT now());
CREATE TABLE customer (customer_id serial PRIMARY KEY, store_id int NOT NULL REFERENCES store,
                       first_name text NOT NULL, last_name text NOT NULL, email text,
                       address_id int NOT NULL REFERENCES address, activebool boolean NOT NULL DEFAULT true,
                       create_date date NOT NULL DEFAULT current_date, last_update timestamptz DEFAULT now(),
                       active int);
CREATE TABLE inventory (inventory_id serial PRIMARY KEY, film_id int NOT NULL REFERENCES film,
                        store_id int NOT NULL REFERENCES store, last_update timestamptz NOT NULL DEFAULT now());
CREATE TABLE rental (rental_id serial PRIMARY KEY, rental_date timestamptz NOT NULL,
                     inventory_id int NOT NULL REFERENCES inventory, customer_id int NOT NULL REFERENCES customer,
                     return_date timestamptz, staff_id int NOT NULL REFERENCES staff,
                     last_update timestamptz NOT NULL DEFAULT now());
CREATE TABLE payment (payment_id serial, customer_id int NOT NULL, staff_id int NOT NULL, rental_id int,
                      amount numeric(5,2) NOT NULL, paid_at timestamptz NOT NULL,
                      PRIMARY KEY (payment_id, paid_at)) PARTITION BY RANGE (paid_at);
CREATE TABLE payment_2022 PARTITION OF payment FOR VALUES FROM ('2022-01-01') TO ('2023-01-01');
CREATE TABLE payment_2023 PARTITION OF payment FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
CREATE TABLE payment_2024 PARTITION OF payment FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE payment_2025 PARTITION OF payment FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE payment_2026 PARTITION OF payment FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE TABLE payment_2027 PARTITION OF payment FOR VALUES FROM ('2027-01-01') TO ('2028-01-01');
-- Green keys payments on (payment_id, customer_id): blue must send customer_id for deletes.
ALTER TABLE payment REPLICA IDENTITY FULL;
ALTER TABLE payment_2022 REPLICA IDENTITY FULL; ALTER TABLE payment_2023 REPLICA IDENTITY FULL;
ALTER TABLE payment_2024 REPLICA IDENTITY FULL; ALTER TABLE payment_2025 REPLICA IDENTITY FULL;
ALTER TABLE payment_2026 REPLICA IDENTITY FULL; ALTER TABLE payment_2027 REPLICA IDENTITY FULL;

CREATE TRIGGER touch BEFORE UPDATE ON country FOR EACH ROW EXECUTE FUNCTION touch_last_update();
CREATE TRIGGER touch BEFORE UPDATE ON city FOR EACH ROW EXECUTE FUNCTION touch_last_update();
CREATE TRIGGER touch BEFORE UPDATE ON address FOR EACH ROW EXECUTE FUNCTION touch_last_update();
CREATE TRIGGER touch BEFORE UPDATE ON actor FOR EACH ROW EXECUTE FUNCTION touch_last_update();
CREATE TRIGGER touch BEFORE UPDATE ON film FOR EACH ROW EXECUTE FUNCTION touch_last_update();
CREATE TRIGGER touch BEFORE UPDATE ON customer FOR EACH ROW EXECUTE FUNCTION touch_last_update();
CREATE TRIGGER touch BEFORE UPDATE ON rental FOR EACH ROW EXECUTE FUNCTION touch_last_update();
CREATE TRIGGER touch BEFORE UPDATE ON inventory FOR EACH ROW EXECUTE FUNCTION touch_last_update();

CREATE VIEW customer_list AS
  SELECT c.customer_id AS id, c.first_name || ' ' || c.last_name AS name, a.line1 AS address, ci.city, co.country
  FROM customer c JOIN address a USING (address_id) JOIN city ci USING (city_id) JOIN country co USING (country_id);
CREATE VIEW film_list AS
  SELECT f.film_id, f.title, string_agg(a.first_name || ' ' || a.last_name, ', ' ORDER BY a.last_name) AS actors
  FROM film f LEFT JOIN film_actor fa USING (film_id) LEFT JOIN actor a USING (actor_id) GROUP BY f.film_id, f.title;

-- The shop's history: about the size of a real small one (1,000 films, 600 customers,
-- 16,000 rentals and payments).
INSERT INTO country (country) SELECT 'Country ' || g FROM generate_series(1, 40) g;
INSERT INTO city (city, country_id) SELECT 'City ' || g, 1 + g % 40 FROM generate_series(1, 300) g;
INSERT INTO address (line1, line2, district, city_id, postal_code, phone)
  SELECT g || ' Main Street', CASE WHEN g % 3 = 0 THEN 'Flat ' || g END, 'District ' || (g % 17), 1 + g % 300,
         lpad((g * 37 % 100000)::text, 5, '0'), '+1-555-' || lpad(g::text, 4, '0')
  FROM generate_series(1, 610) g;
INSERT INTO language (name) VALUES ('English'), ('Italian'), ('Japanese'), ('Mandarin'), ('French'), ('German');
INSERT INTO category (name) SELECT 'Category ' || g FROM generate_series(1, 16) g;
INSERT INTO actor (first_name, last_name) SELECT 'Actor' || g, (ARRAY['Smith', 'O''Brien', 'Müller', 'Núñez', 'Chen'])[1 + g % 5] FROM generate_series(1, 200) g;
INSERT INTO film (title, description, release_year, language_id, rental_days, rental_rate, length_minutes,
                  replacement_cost, rating, special_features, fulltext)
  SELECT 'Film ' || g, 'A story of ' || g || ' "quoted" \ things', 1990 + g % 30, 1 + g % 6, 3 + g % 5,
         0.99 + (g % 5), 60 + g % 120, 9.99 + (g % 20), (enum_range(NULL::age_rating))[1 + g % 5],
         CASE WHEN g % 4 = 0 THEN '{}' ELSE ARRAY['Trailers', 'Deleted Scenes', 'Commentaries'] END,
         to_tsvector('simple', 'Film ' || g || ' story things')
  FROM generate_series(1, 1000) g;
INSERT INTO film_actor (actor_id, film_id) SELECT DISTINCT 1 + (g * 7) % 200, 1 + g % 1000 FROM generate_series(1, 5400) g;
INSERT INTO film_category (film_id, category_id) SELECT g, 1 + g % 16 FROM generate_series(1, 1000) g;
INSERT INTO store (address_id) VALUES (1), (2);
INSERT INTO staff (first_name, last_name, address_id, email, store_id, username, password_hash)
  VALUES ('Mike', 'Hill', 3, 'mike@shop.example', 1, 'mike', '\x8cb2237d0679ca88db6464eac60da963'),
         ('Jon', 'Stone', 4, 'jon@shop.example', 2, 'jon', NULL);
UPDATE store SET manager_staff_id = store_id;
INSERT INTO customer (store_id, first_name, last_name, email, address_id, activebool, create_date, active)
  SELECT 1 + g % 2, 'Given' || g, 'Family' || g, 'customer' || g || '@mail.example', 10 + g, g % 50 <> 0,
         date '2022-02-14' + g % 300, CASE WHEN g % 50 = 0 THEN 0 ELSE 1 END
  FROM generate_series(1, 600) g;
INSERT INTO inventory (film_id, store_id) SELECT 1 + g % 1000, 1 + g % 2 FROM generate_series(1, 4500) g;
INSERT INTO rental (rental_date, inventory_id, customer_id, return_date, staff_id)
  SELECT timestamptz '2022-05-24 22:53:30+00' + g * interval '97 minutes', 1 + (g * 13) % 4500, 1 + (g * 7) % 600,
         CASE WHEN g % 90 = 0 THEN NULL ELSE timestamptz '2022-05-24 22:53:30+00' + g * interval '97 minutes' + interval '3 days' END,
         1 + g % 2
  FROM generate_series(1, 16000) g;
INSERT INTO payment (customer_id, staff_id, rental_id, amount, paid_at)
  SELECT customer_id, staff_id, rental_id, 0.99 + (rental_id % 10), rental_date + interval '1 hour' FROM rental;
