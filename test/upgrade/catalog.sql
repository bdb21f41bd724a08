-- test/upgrade/catalog.sql: a fingerprint of everything the escalation
-- extension owns, one line per object, sorted, so that two databases (a
-- fresh install of the newest version, and 1.0 walked up by ALTER EXTENSION
-- UPDATE) can be compared with diff.  Names, definitions, privileges,
-- comments and configuration-dump registrations; no OIDs.
\pset format unaligned
\pset tuples_only on
\pset footer off
WITH ext AS (SELECT oid FROM pg_extension WHERE extname = 'escalation'),
members AS (
    SELECT d.classid, d.objid
      FROM pg_depend d, ext
     WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid AND d.deptype = 'e'),
lines AS (
    -- functions: full definition, privileges, comment
    SELECT 'function ' || p.oid::regprocedure::text || ' ' ||
           md5(pg_get_functiondef(p.oid)) || ' acl=' || coalesce(p.proacl::text, '-') ||
           ' comment=' || md5(coalesce(obj_description(p.oid, 'pg_proc'), '')) AS line
      FROM members m JOIN pg_proc p ON m.classid = 'pg_proc'::regclass AND p.oid = m.objid
    UNION ALL
    -- relations (tables, views, sequences, indexes of member tables via below)
    SELECT 'relation ' || c.oid::regclass::text || ' kind=' || c.relkind::text ||
           ' acl=' || coalesce(c.relacl::text, '-') || ' options=' || coalesce(c.reloptions::text, '-') ||
           ' rls=' || c.relrowsecurity || ' comment=' || md5(coalesce(obj_description(c.oid, 'pg_class'), '')) ||
           CASE WHEN c.relkind = 'v' THEN ' view=' || md5(pg_get_viewdef(c.oid)) ELSE '' END
      FROM members m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
    UNION ALL
    -- columns of member relations
    SELECT 'column ' || c.oid::regclass::text || '.' || a.attname || ' ' ||
           format_type(a.atttypid, a.atttypmod) || ' notnull=' || a.attnotnull ||
           ' default=' || coalesce(pg_get_expr(ad.adbin, ad.adrelid), '-') ||
           ' identity=' || a.attidentity::text || ' generated=' || a.attgenerated::text ||
           ' comment=' || md5(coalesce(col_description(c.oid, a.attnum), ''))
      FROM members m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
      JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
      LEFT JOIN pg_attrdef ad ON ad.adrelid = c.oid AND ad.adnum = a.attnum
    UNION ALL
    -- indexes, constraints, triggers, policies of member tables
    SELECT 'index ' || pg_get_indexdef(i.indexrelid)
      FROM members m JOIN pg_index i ON m.classid = 'pg_class'::regclass AND i.indrelid = m.objid
    UNION ALL
    SELECT 'constraint ' || co.conrelid::regclass::text || ' ' || co.conname || ' ' || pg_get_constraintdef(co.oid)
      FROM members m JOIN pg_constraint co ON m.classid = 'pg_class'::regclass AND co.conrelid = m.objid
    UNION ALL
    SELECT 'trigger ' || pg_get_triggerdef(t.oid)
      FROM members m JOIN pg_trigger t ON m.classid = 'pg_class'::regclass AND t.tgrelid = m.objid
     WHERE NOT t.tgisinternal
    UNION ALL
    SELECT 'policy ' || po.polrelid::regclass::text || ' ' || po.polname || ' ' || po.polcmd::text || ' ' ||
           coalesce(pg_get_expr(po.polqual, po.polrelid), '-') || ' ' ||
           coalesce(pg_get_expr(po.polwithcheck, po.polrelid), '-') || ' roles=' || po.polroles::regrole[]::text
      FROM members m JOIN pg_policy po ON m.classid = 'pg_class'::regclass AND po.polrelid = m.objid
    UNION ALL
    -- types (composite types of tables are covered by their tables)
    SELECT 'type ' || t.oid::regtype::text || ' ' || t.typtype::text
      FROM members m JOIN pg_type t ON m.classid = 'pg_type'::regclass AND t.oid = m.objid
    UNION ALL
    -- what pg_dump keeps
    SELECT 'config ' || cfg::regclass::text || ' ' || coalesce(cond, '-')
      FROM pg_extension e,
           unnest(e.extconfig, coalesce(e.extcondition, array_fill(NULL::text, ARRAY[cardinality(e.extconfig)])))
               AS x(cfg, cond)
     WHERE e.extname = 'escalation'
    UNION ALL
    SELECT 'member ' || pg_describe_object(m.classid, m.objid, 0) FROM members m
)
SELECT line FROM lines ORDER BY line COLLATE "C";
