-- wsbench: the database, the table and a least-privilege user for the server.
-- Apply with: mysql -u root < schema.sql   (as a non-root OS user: sudo mysql < schema.sql)
-- Running it again is harmless: it creates only what is missing, and upgrades an older table to
-- the layout below (once; a big table takes a while to rebuild): wsbench 0.2.0's to the faster
-- primary key, and a run_id compared without case to one compared byte by byte. For a table of
-- wsbench 0.1.0, see "Upgrading from 0.1.0" in CHANGELOG.md (and "Upgrading the table" in
-- docs/troubleshooting.md).

CREATE DATABASE IF NOT EXISTS test CHARACTER SET utf8mb4;

CREATE TABLE IF NOT EXISTS test.testing (
  number     BIGINT          NOT NULL,
  -- The run (session) that sent the number, and the number's position in it: together they
  -- make a resent or retried number land on the same row instead of a second one. As the
  -- primary key they are also the table's only index, which halves what InnoDB does per row
  -- (against a surrogate id plus a unique key). Run ids are ASCII compared byte by byte, as the
  -- server treats them: under a case-insensitive collation run "a" would share run "A"'s rows.
  run_id     VARCHAR(64)     CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  seq        BIGINT UNSIGNED NOT NULL,
  created_at TIMESTAMP(6)    NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (run_id, seq)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

-- wsbench 0.2.0's table had a surrogate id as its primary key and UNIQUE KEY run_seq (run_id, seq):
-- make (run_id, seq) the primary key and drop the id. Nothing happens when there is no such id.
SET @upgrade = (
  SELECT IF(COUNT(*) = 1,
            'ALTER TABLE test.testing DROP COLUMN id, DROP INDEX run_seq, ADD PRIMARY KEY (run_id, seq)',
            'DO 0')
  FROM information_schema.columns
  WHERE table_schema = 'test' AND table_name = 'testing' AND column_name = 'id'
    AND EXISTS (SELECT 1 FROM information_schema.statistics
                WHERE table_schema = 'test' AND table_name = 'testing' AND index_name = 'run_seq')
);
PREPARE upgrade FROM @upgrade;
EXECUTE upgrade;
DEALLOCATE PREPARE upgrade;

-- Tables made before run ids were compared byte by byte: make them so. Nothing happens when
-- run_id is ascii_bin already. No rows change: run ids have always been ASCII.
SET @upgrade = (
  SELECT IF(COUNT(*) = 1,
            'ALTER TABLE test.testing MODIFY run_id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL',
            'DO 0')
  FROM information_schema.columns
  WHERE table_schema = 'test' AND table_name = 'testing' AND column_name = 'run_id'
    AND collation_name <> 'ascii_bin'
);
PREPARE upgrade FROM @upgrade;
EXECUTE upgrade;
DEALLOCATE PREPARE upgrade;

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
