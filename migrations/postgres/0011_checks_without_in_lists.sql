-- Nothing to change on PostgreSQL: the SQLite migration of the same number rewrites
-- CHECK constraints that SQLite evaluated through a temporary b-tree per statement
-- (`x IN (a, b, c)`); PostgreSQL compares such lists in place. The file keeps the two
-- migration sequences numbered alike.
SELECT 1;
