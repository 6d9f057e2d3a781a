-- wsbench: the database, the table and a least-privilege user for the server.
-- Apply with: mysql -u root < schema.sql   (as a non-root OS user: sudo mysql < schema.sql)
-- Running it again is harmless: it creates only what is missing. To upgrade a table made by an
-- older version, see "Upgrading the table" in README.md.

CREATE DATABASE IF NOT EXISTS test CHARACTER SET utf8mb4;

CREATE TABLE IF NOT EXISTS test.testing (
  id         BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  number     BIGINT          NOT NULL,
  -- The run (session) that sent the number, and the number's position in it: together they
  -- make a resent or retried number land on the same row instead of a second one.
  run_id     VARCHAR(64)     NOT NULL,
  seq        BIGINT UNSIGNED NOT NULL,
  created_at TIMESTAMP(6)    NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (id),
  UNIQUE KEY run_seq (run_id, seq)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

-- The server's user may add rows and read them back, nothing else, and only from this machine.
-- It has no password: it can reach one benchmark table from loopback only. To give it one:
--   ALTER USER 'wsbench'@'localhost' IDENTIFIED BY '...';  (and the same for 127.0.0.1 and ::1)
-- then pass it in the URL: WSBENCH_DB=mysql://wsbench:...@127.0.0.1:3306/test
CREATE USER IF NOT EXISTS 'wsbench'@'localhost';
CREATE USER IF NOT EXISTS 'wsbench'@'127.0.0.1';
CREATE USER IF NOT EXISTS 'wsbench'@'::1';
GRANT SELECT, INSERT ON test.testing TO 'wsbench'@'localhost';
GRANT SELECT, INSERT ON test.testing TO 'wsbench'@'127.0.0.1';
GRANT SELECT, INSERT ON test.testing TO 'wsbench'@'::1';
