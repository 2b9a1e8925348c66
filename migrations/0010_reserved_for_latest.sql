-- 0010: reserved for the `latest` branch's migration (issue 12), which is
-- merged before this one. Only here so that 0011 builds on its own; the
-- merge replaces this file with the real 0010.
SELECT 1;
