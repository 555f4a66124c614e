-- The back office (pgbench script): a refund deletes a payment, a film's price changes.
\set p random(1, 16000)
BEGIN;
DELETE FROM payment WHERE payment_id = :p;
UPDATE film SET rental_rate = rental_rate + 0.01, special_features = special_features || 'Behind the Scenes'::text WHERE film_id = :p % 1000 + 1 AND rental_rate < 99;
END;
