-- The rental shop's new schema: bigint keys, customer renamed to client with renamed name
-- columns and a computed full_name, the release year a plain integer, payments hash-
-- partitioned by customer instead of by year, foreign keys and triggers as on blue.
CREATE TYPE age_rating AS ENUM ('all', '7+', '12+', '16+', '18+');

CREATE FUNCTION touch_last_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.last_update := now();
  RETURN NEW;
END $$;

CREATE TABLE country (country_id bigserial PRIMARY KEY, country text NOT NULL, last_update timestamptz NOT NULL DEFAULT now());
CREATE TABLE city (city_id bigserial PRIMARY KEY, city text NOT NULL, country_id bigint NOT NULL REFERENCES country,
                   last_update timestamptz NOT NULL DEFAULT now());
CREATE TABLE address (address_id bigserial PRIMARY KEY, line1 text NOT NULL, line2 text, district text,
                      city_id bigint NOT NULL REFERENCES city, postal_code varchar(10), phone varchar(20),
                      last_update timestamptz NOT NULL DEFAULT now());
CREATE TABLE language (language_id smallserial PRIMARY KEY, name char(20) NOT NULL,
                       last_update timestamptz NOT NULL DEFAULT now());
CREATE TABLE category (category_id smallserial PRIMARY KEY, name varchar(25) NOT NULL,
                       last_update timestamptz NOT NULL DEFAULT now());
CREATE TABLE actor (actor_id bigserial PRIMARY KEY, first_name text NOT NULL, last_name text NOT NULL,
                    last_update timestamptz NOT NULL DEFAULT now());
CREATE TABLE film (film_id bigserial PRIMARY KEY, title text NOT NULL, description text, release_year integer,
                   language_id smallint NOT NULL REFERENCES language, rental_days smallint NOT NULL DEFAULT 3,
                   rental_rate numeric(4,2) NOT NULL DEFAULT 4.99, length_minutes smallint,
                   replacement_cost numeric(5,2) NOT NULL DEFAULT 19.99, rating age_rating DEFAULT 'all',
                   special_features text[], fulltext tsvector NOT NULL,
                   last_update timestamptz NOT NULL DEFAULT now());
CREATE TABLE film_actor (actor_id bigint NOT NULL REFERENCES actor, film_id bigint NOT NULL REFERENCES film,
                         last_update timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (actor_id, film_id));
CREATE TABLE film_category (film_id bigint NOT NULL REFERENCES film, category_id smallint NOT NULL REFERENCES category,
                            last_update timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (film_id, category_id));
CREATE TABLE store (store_id bigserial PRIMARY KEY, manager_staff_id bigint, address_id bigint NOT NULL REFERENCES address,
                    last_update timestamptz NOT NULL DEFAULT now());
CREATE TABLE staff (staff_id bigserial PRIMARY KEY, first_name text NOT NULL, last_name text NOT NULL,
                    address_id bigint NOT NULL REFERENCES address, email text, store_id bigint NOT NULL REFERENCES store,
                    active boolean NOT NULL DEFAULT true, username text NOT NULL, password_hash bytea,
                    last_update timestamptz NOT NULL DEFAULT now());
CREATE TABLE client (client_id bigserial PRIMARY KEY, store_id bigint NOT NULL REFERENCES store,
                     given_name text NOT NULL, family_name text NOT NULL, full_name text NOT NULL, email text,
                     address_id bigint NOT NULL REFERENCES address, activebool boolean NOT NULL DEFAULT true,
                     create_date date NOT NULL DEFAULT current_date, last_update timestamptz DEFAULT now(),
                     active int);
CREATE TABLE inventory (inventory_id bigserial PRIMARY KEY, film_id bigint NOT NULL REFERENCES film,
                        store_id bigint NOT NULL REFERENCES store, last_update timestamptz NOT NULL DEFAULT now());
CREATE TABLE rental (rental_id bigserial PRIMARY KEY, rental_date timestamptz NOT NULL,
                     inventory_id bigint NOT NULL REFERENCES inventory, customer_id bigint NOT NULL REFERENCES client,
                     return_date timestamptz, staff_id bigint NOT NULL REFERENCES staff,
                     last_update timestamptz NOT NULL DEFAULT now());
CREATE TABLE payment (payment_id bigserial, customer_id bigint NOT NULL, staff_id bigint NOT NULL, rental_id bigint,
                      amount numeric(5,2) NOT NULL, paid_at timestamptz NOT NULL,
                      PRIMARY KEY (payment_id, customer_id)) PARTITION BY HASH (customer_id);
CREATE TABLE payment_h0 PARTITION OF payment FOR VALUES WITH (MODULUS 4, REMAINDER 0);
CREATE TABLE payment_h1 PARTITION OF payment FOR VALUES WITH (MODULUS 4, REMAINDER 1);
CREATE TABLE payment_h2 PARTITION OF payment FOR VALUES WITH (MODULUS 4, REMAINDER 2);
CREATE TABLE payment_h3 PARTITION OF payment FOR VALUES WITH (MODULUS 4, REMAINDER 3);
-- After a switch green is the source: blue keys payments on (payment_id, paid_at), and the
-- tables without a key of blue's on green need their whole old rows.
ALTER TABLE payment REPLICA IDENTITY FULL;
ALTER TABLE payment_h0 REPLICA IDENTITY FULL; ALTER TABLE payment_h1 REPLICA IDENTITY FULL;
ALTER TABLE payment_h2 REPLICA IDENTITY FULL; ALTER TABLE payment_h3 REPLICA IDENTITY FULL;

CREATE TRIGGER touch BEFORE UPDATE ON country FOR EACH ROW EXECUTE FUNCTION touch_last_update();
CREATE TRIGGER touch BEFORE UPDATE ON city FOR EACH ROW EXECUTE FUNCTION touch_last_update();
CREATE TRIGGER touch BEFORE UPDATE ON address FOR EACH ROW EXECUTE FUNCTION touch_last_update();
CREATE TRIGGER touch BEFORE UPDATE ON actor FOR EACH ROW EXECUTE FUNCTION touch_last_update();
CREATE TRIGGER touch BEFORE UPDATE ON film FOR EACH ROW EXECUTE FUNCTION touch_last_update();
CREATE TRIGGER touch BEFORE UPDATE ON client FOR EACH ROW EXECUTE FUNCTION touch_last_update();
CREATE TRIGGER touch BEFORE UPDATE ON rental FOR EACH ROW EXECUTE FUNCTION touch_last_update();
CREATE TRIGGER touch BEFORE UPDATE ON inventory FOR EACH ROW EXECUTE FUNCTION touch_last_update();

CREATE VIEW customer_list AS
  SELECT c.client_id AS id, c.full_name AS name, a.line1 AS address, ci.city, co.country
  FROM client c JOIN address a USING (address_id) JOIN city ci USING (city_id) JOIN country co USING (country_id);
