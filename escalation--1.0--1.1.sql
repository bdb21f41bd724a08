/* escalation--1.0--1.1.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION escalation UPDATE TO '1.1'" to load this file. \quit

/*
 * Changes since 1.0, one section per change. Until 1.1 is released there
 * is no full escalation--1.1.sql: CREATE EXTENSION installs 1.0 and runs
 * this script (PostgreSQL finds that path itself), so a fresh install and
 * an upgraded one cannot differ. When 1.1 is released, a full script may
 * be rolled up and test/upgrade/run.sh compares the two.
 *
 * Same rules as the install script: everything schema-qualified, operators
 * in function bodies qualified with OPERATOR(pg_catalog.x), search_path
 * pinned on every SECURITY DEFINER function.
 */
