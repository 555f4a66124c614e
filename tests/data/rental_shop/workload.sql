-- The shop at work (pgbench script): a customer rents a film, pays, and returns an earlier
-- rental. Written so that it runs unchanged on blue's schema and on green's (after a switch,
-- the application's customer table is reached through a view on green).
\set cust random(1, 600)
\set inv random(1, 4500)
\set staff random(1, 2)
BEGIN;
INSERT INTO rental (rental_date, inventory_id, customer_id, staff_id) VALUES (now(), :inv, :cust, :staff) RETURNING rental_id \gset
INSERT INTO payment (customer_id, staff_id, rental_id, amount, paid_at) VALUES (:cust, :staff, :rental_id, 4.99, now());
UPDATE rental SET return_date = now() WHERE rental_id = (SELECT max(rental_id) FROM rental WHERE customer_id = :cust AND return_date IS NULL AND rental_id < :rental_id);
UPDATE inventory SET store_id = 3 - store_id WHERE inventory_id = :inv;
END;
