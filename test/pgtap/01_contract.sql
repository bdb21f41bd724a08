-- Contract of the escalation extension: its tables, functions and their
-- signatures, keys, privileges per role, and search_path pinning.
\set ON_ERROR_STOP true
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS escalation;
RESET client_min_messages;

BEGIN;
SELECT plan(574);
-- tables
SELECT has_schema('escalation');
SELECT tables_are('escalation', ARRAY['accounts', 'agent_skills', 'agents', 'assignments', 'calendar_holidays', 'calendar_hours', 'calendars', 'clock_failures', 'clock_firings', 'clock_segments', 'clocks', 'csat_sources', 'escalation_changes', 'escalations', 'events', 'fact_changes', 'fact_deltas', 'first_responses', 'metric_days', 'metric_months', 'metric_paths', 'metric_resolution', 'metric_resolution_fine', 'metric_sources', 'metric_tte', 'metric_tte_reasons', 'models', 'notifications', 'pending_escalations', 'pending_failed', 'routing_failures', 'routing_settings', 'routing_sources', 'routing_weights', 'rules', 'sentiment_terms', 'skills', 'sla_ladder', 'sla_policies', 'sla_targets', 'sla_tickets', 'sources', 'teams', 'tenant_roles', 'ticket_facts', 'ticket_paths', 'ticket_transfers', 'triage_schedules']);
SELECT has_table('escalation', 'accounts', 'table escalation.accounts exists');
SELECT has_table('escalation', 'agent_skills', 'table escalation.agent_skills exists');
SELECT has_table('escalation', 'agents', 'table escalation.agents exists');
SELECT has_table('escalation', 'calendar_holidays', 'table escalation.calendar_holidays exists');
SELECT has_table('escalation', 'calendar_hours', 'table escalation.calendar_hours exists');
SELECT has_table('escalation', 'calendars', 'table escalation.calendars exists');
SELECT has_table('escalation', 'escalations', 'table escalation.escalations exists');
SELECT has_table('escalation', 'events', 'table escalation.events exists');
SELECT has_table('escalation', 'first_responses', 'table escalation.first_responses exists');
SELECT has_table('escalation', 'rules', 'table escalation.rules exists');
SELECT has_table('escalation', 'sentiment_terms', 'table escalation.sentiment_terms exists');
SELECT has_table('escalation', 'skills', 'table escalation.skills exists');
SELECT has_table('escalation', 'sources', 'table escalation.sources exists');
SELECT has_table('escalation', 'teams', 'table escalation.teams exists');
SELECT has_table('escalation', 'clock_firings', 'table escalation.clock_firings exists');
SELECT has_table('escalation', 'clock_segments', 'table escalation.clock_segments exists');
SELECT has_table('escalation', 'clocks', 'table escalation.clocks exists');
SELECT has_table('escalation', 'notifications', 'table escalation.notifications exists');
SELECT has_table('escalation', 'sla_ladder', 'table escalation.sla_ladder exists');
SELECT has_table('escalation', 'sla_policies', 'table escalation.sla_policies exists');
SELECT has_table('escalation', 'sla_targets', 'table escalation.sla_targets exists');
SELECT has_table('escalation', 'sla_tickets', 'table escalation.sla_tickets exists');
SELECT views_are('escalation', ARRAY['accounts_at_risk', 'agent_load', 'bypass_candidates', 'csat_comparison', 'escalation_patterns', 'escalation_rates', 'escalation_rates_by', 'metric_months_all', 'misroutes', 'reescalation_paths', 'reescalation_rates', 'reescalations', 'resolution_percentiles', 'resolution_times', 'sla_attainment', 'sla_breaches', 'sla_policy_overlaps', 'sla_target_proposals', 'team_keywords', 'team_load', 'ticket_journey', 'time_to_escalation', 'time_to_escalation_by_reason', 'transfer_hops', 'transfer_stats', 'transfer_stats_by', 'workers']);

-- functions, with their signatures
SELECT functions_are('escalation', ARRAY['accept', 'account_facts', 'agent_load', 'apply_fact_deltas', 'at_risk_accounts', 'attach', 'attach_csat', 'attached_source', 'backfill_facts', 'backfill_sla', 'backlog', 'business_add', 'business_periods', 'business_time', 'call_after_write', 'caller_sees_ticket', 'caller_tenant_visible', 'cancel', 'check_accept', 'check_after_write', 'check_calendar_in_use', 'check_caller_tenant', 'check_column', 'check_indexes', 'check_lookup', 'check_transition', 'claim_due_clocks', 'classify', 'clock_crossing', 'clock_fire', 'clock_schedule', 'clock_set', 'clock_start', 'clocks_retarget', 'clocks_retarget_one', 'close_offer', 'compact_metrics', 'compare_value', 'complete_context', 'complete_contexts', 'csat_trigger', 'decline', 'detach', 'duration_bucket', 'duration_bucket_high', 'duration_bucket_low', 'escalate', 'escalation_valid', 'evaluate', 'event_valid', 'explain', 'explain_route', 'fact_days', 'fact_resolution', 'facts_delta', 'facts_escalated', 'fire_clocks_isolated', 'fold_facts', 'forget_dropped_tables', 'frustration', 'guard_source', 'guard_triage_schedule', 'handoff', 'histogram_find', 'instant_expr', 'invalidate_cache', 'invert_value_map', 'is_clean_text_array', 'is_sla_duration', 'is_time_zone', 'is_zone_name', 'keep_targeted_skills', 'keyword_lexemes', 'match_keywords', 'merge_reasons', 'message_trigger', 'offer', 'offers_to_take_back', 'overflow', 'pattern_runs', 'pattern_shape', 'previous_escalation', 'propose_sla_targets', 'reassign', 'rebuild_metrics', 'rebuild_paths', 'rebuild_resolution_rollups', 'recompute_sla', 'record_event', 'record_pending', 'reescalate', 'refresh_escalated', 'report', 'requester_tickets', 'requeue', 'requeue_isolated', 'resolve', 'restoring', 'retention', 'retrain_due', 'retry_failed_clocks', 'retry_pending_failed', 'retry_routing_failures', 'route', 'route_isolated', 'route_one', 'route_plan', 'routing_set_aside', 'routing_config', 'run_batch', 'run_cycle', 'sentiment', 'sentiment_detail', 'set_status', 'sla_add', 'sla_between', 'sla_due', 'sla_escalate', 'sla_policy_for', 'sla_recomputed', 'sla_steps', 'sla_track_message', 'sla_track_ticket', 'sla_what_if', 'step_failed', 'target_key', 'team_reachable_at', 'tenant_visible', 'text_passes', 'ticket_context', 'ticket_sentiment', 'ticket_trigger', 'track_ticket_facts', 'train', 'transient_error', 'transition_allowed', 'tte_minutes', 'validate_calendar_hours', 'validate_routing_source', 'validate_rule', 'validate_sla', 'validate_sla_policy', 'validate_tenant_role', 'validate_tenant_roles', 'visible_sources', 'wakeup', 'warn_policy_overlaps', 'worker_status', 'write_assignee']);
SELECT has_function('escalation', 'clock_crossing', ARRAY['escalation.clocks', 'double precision']::name[]);
SELECT has_function('escalation', 'clock_fire', ARRAY['escalation.clocks', 'timestamp with time zone']::name[]);
SELECT has_function('escalation', 'clock_schedule', ARRAY['escalation.clocks']::name[]);
SELECT has_function('escalation', 'clock_set', ARRAY['escalation.clocks', 'text', 'timestamp with time zone']::name[]);
SELECT has_function('escalation', 'clock_start', ARRAY['integer', 'text', 'text', 'integer', 'timestamp with time zone', 'boolean']::name[]);
SELECT has_function('escalation', 'clocks_retarget', ARRAY['integer', 'text', 'integer', 'text', 'timestamp with time zone']::name[]);
SELECT has_function('escalation', 'clocks_retarget_one', ARRAY['escalation.clocks', 'integer', 'timestamp with time zone']::name[]);
SELECT has_function('escalation', 'compare_value', ARRAY['text', 'text', 'text']::name[]);
SELECT has_function('escalation', 'instant_expr', ARRAY['regclass', 'text']::name[]);
SELECT has_function('escalation', 'is_sla_duration', ARRAY['interval']::name[]);
SELECT has_function('escalation', 'propose_sla_targets', ARRAY['regclass', 'double precision', 'double precision', 'timestamp with time zone']::name[]);
SELECT has_function('escalation', 'recompute_sla', ARRAY['regclass', 'timestamp with time zone']::name[]);
SELECT has_function('escalation', 'run_batch', ARRAY['timestamp with time zone', 'integer']::name[]);
SELECT has_function('escalation', 'run_cycle', ARRAY['timestamp with time zone']::name[]);
SELECT has_function('escalation', 'sla_add', ARRAY['text', 'timestamp with time zone', 'double precision']::name[]);
SELECT has_function('escalation', 'sla_between', ARRAY['text', 'timestamp with time zone', 'timestamp with time zone']::name[]);
SELECT has_function('escalation', 'sla_escalate', ARRAY['escalation.clocks', 'escalation.sla_ladder', 'timestamp with time zone', 'timestamp with time zone']::name[]);
SELECT has_function('escalation', 'sla_policy_for', ARRAY['integer', 'text', 'text', 'text', 'text', 'jsonb']::name[]);
SELECT function_lang_is('escalation', 'sla_policy_for', ARRAY['integer', 'text', 'text', 'text', 'text', 'jsonb']::name[], 'plpgsql',
                        'sla_policy_for() is PL/pgSQL, whose plan lasts the session (an SQL function with a FROM clause is planned again in every transaction that calls it)');
SELECT function_lang_is('escalation', 'merge_reasons', ARRAY['jsonb', 'jsonb']::name[], 'c',
                        'merge_reasons() is C (as SQL with a pinned search_path it was planned again in every record statement)');
SELECT has_function('escalation', 'sla_recomputed', ARRAY['integer', 'timestamp with time zone']::name[]);
SELECT has_function('escalation', 'sla_steps', ARRAY['integer', 'text', 'interval']::name[]);
SELECT has_function('escalation', 'sla_track_message', ARRAY['integer', 'text', 'text', 'timestamp with time zone']::name[]);
SELECT has_function('escalation', 'sla_track_ticket', ARRAY['integer', 'text', 'timestamp with time zone', 'timestamp with time zone', 'text', 'text', 'text', 'text', 'text', 'jsonb']::name[]);
SELECT has_function('escalation', 'sla_what_if', ARRAY['regclass', 'timestamp with time zone']::name[]);
SELECT has_function('escalation', 'team_reachable_at', ARRAY['text', 'timestamp with time zone']::name[]);
SELECT has_function('escalation', 'warn_policy_overlaps', ARRAY[]::name[]);
SELECT has_function('escalation', 'accept', ARRAY['bigint', 'text', 'timestamp with time zone']::name[]);
SELECT has_function('escalation', 'attach', ARRAY['regclass', 'text', 'text', 'jsonb', 'text', 'text', 'text', 'text', 'jsonb', 'text', 'text', 'text', 'text', 'text', 'text', 'text', 'jsonb', 'jsonb', 'regclass', 'text', 'text', 'text', 'text', 'jsonb', 'text', 'regconfig', 'text', 'text', 'text', 'jsonb', 'text', 'jsonb', 'text', 'regclass', 'text', 'text']::name[]);
SELECT has_function('escalation', 'business_add', ARRAY['text', 'timestamp with time zone', 'interval']::name[]);
SELECT has_function('escalation', 'business_periods', ARRAY['text', 'timestamp with time zone', 'timestamp with time zone']::name[]);
SELECT has_function('escalation', 'business_time', ARRAY['text', 'timestamp with time zone', 'timestamp with time zone']::name[]);
SELECT has_function('escalation', 'cancel', ARRAY['bigint', 'text', 'timestamp with time zone']::name[]);
SELECT has_function('escalation', 'check_column', ARRAY['regclass', 'text', 'text', 'text[]']::name[]);
SELECT has_function('escalation', 'check_lookup', ARRAY['text', 'jsonb']::name[]);
SELECT has_function('escalation', 'check_transition', ARRAY[]::name[]);
SELECT has_function('escalation', 'detach', ARRAY['regclass']::name[]);
SELECT has_function('escalation', 'escalate', ARRAY['regclass', 'text', 'text', 'text[]', 'integer', 'text', 'integer', 'text', 'jsonb', 'integer', 'timestamp with time zone']::name[]);
SELECT has_function('escalation', 'explain', ARRAY['regclass', 'text', 'timestamp with time zone']::name[]);
SELECT has_function('escalation', 'frustration', ARRAY['text']::name[]);
SELECT has_function('escalation', 'invalidate_cache', ARRAY[]::name[]);
SELECT has_function('escalation', 'invert_value_map', ARRAY['text', 'jsonb', 'text[]']::name[]);
SELECT has_function('escalation', 'is_clean_text_array', ARRAY['text[]']::name[]);
SELECT has_function('escalation', 'is_time_zone', ARRAY['text']::name[]);
SELECT has_function('escalation', 'is_zone_name', ARRAY['text']::name[]);
SELECT has_function('escalation', 'keyword_lexemes', ARRAY['text', 'regconfig']::name[]);
SELECT has_function('escalation', 'match_keywords', ARRAY['text', 'text[]', 'regconfig']::name[]);
SELECT has_function('escalation', 'merge_reasons', ARRAY['jsonb', 'jsonb']::name[]);
SELECT has_function('escalation', 'escalation_valid', ARRAY['integer', 'text', 'text', 'integer', 'text', 'jsonb']::name[]);
SELECT has_function('escalation', 'event_valid', ARRAY['text']::name[]);
SELECT has_function('escalation', 'message_trigger', ARRAY[]::name[]);
SELECT has_function('escalation', 'record_event', ARRAY[]::name[]);
SELECT has_function('escalation', 'resolve', ARRAY['bigint', 'text', 'timestamp with time zone']::name[]);
SELECT has_function('escalation', 'sentiment', ARRAY['text']::name[]);
SELECT has_function('escalation', 'sentiment_detail', ARRAY['text', 'integer']::name[]);
SELECT function_returns('escalation', 'sentiment', ARRAY['text']::name[], 'double precision');
SELECT volatility_is('escalation', 'sentiment', ARRAY['text']::name[], 'immutable');
SELECT volatility_is('escalation', 'frustration', ARRAY['text']::name[], 'immutable');
SELECT volatility_is('escalation', 'sentiment_detail', ARRAY['text', 'integer']::name[], 'stable');
SELECT has_function('escalation', 'set_status', ARRAY['bigint', 'text', 'text', 'text', 'timestamp with time zone']::name[]);
SELECT has_function('escalation', 'target_key', ARRAY['text', 'text[]', 'integer']::name[]);
SELECT has_function('escalation', 'ticket_context', ARRAY['integer', 'text']::name[]);
SELECT has_function('escalation', 'ticket_trigger', ARRAY[]::name[]);
SELECT has_function('escalation', 'transition_allowed', ARRAY['text', 'text']::name[]);
SELECT has_function('escalation', 'validate_calendar_hours', ARRAY[]::name[]);
SELECT has_function('escalation', 'validate_rule', ARRAY[]::name[]);
SELECT has_function('escalation', 'wakeup', ARRAY[]::name[]);
SELECT has_function('escalation', 'worker_status', ARRAY[]::name[]);
SELECT function_returns('escalation', 'wakeup', ARRAY[]::name[], 'boolean');
SELECT function_returns('escalation', 'worker_status', ARRAY[]::name[], 'setof record');
SELECT function_returns('escalation', 'attach', ARRAY['regclass', 'text', 'text', 'jsonb', 'text', 'text', 'text', 'text', 'jsonb', 'text', 'text', 'text', 'text', 'text', 'text', 'text', 'jsonb', 'jsonb', 'regclass', 'text', 'text', 'text', 'text', 'jsonb', 'text', 'regconfig', 'text', 'text', 'text', 'jsonb', 'text', 'jsonb', 'text', 'regclass', 'text', 'text']::name[], 'integer');
SELECT function_returns('escalation', 'escalate', ARRAY['regclass', 'text', 'text', 'text[]', 'integer', 'text', 'integer', 'text', 'jsonb', 'integer', 'timestamp with time zone']::name[], 'bigint');
SELECT function_returns('escalation', 'explain', ARRAY['regclass', 'text', 'timestamp with time zone']::name[], 'setof record');
SELECT function_returns('escalation', 'ticket_context', ARRAY['integer', 'text']::name[], 'jsonb');
SELECT function_returns('escalation', 'accept', ARRAY['bigint', 'text', 'timestamp with time zone']::name[], 'escalation.escalations');
SELECT function_returns('escalation', 'business_add', ARRAY['text', 'timestamp with time zone', 'interval']::name[], 'timestamp with time zone');
SELECT function_returns('escalation', 'business_time', ARRAY['text', 'timestamp with time zone', 'timestamp with time zone']::name[], 'interval');
SELECT function_returns('escalation', 'business_periods', ARRAY['text', 'timestamp with time zone', 'timestamp with time zone']::name[], 'setof record');
SELECT volatility_is('escalation', 'business_add', ARRAY['text', 'timestamp with time zone', 'interval']::name[], 'stable');
SELECT volatility_is('escalation', 'business_time', ARRAY['text', 'timestamp with time zone', 'timestamp with time zone']::name[], 'stable');
SELECT volatility_is('escalation', 'business_periods', ARRAY['text', 'timestamp with time zone', 'timestamp with time zone']::name[], 'stable');
SELECT isnt_strict('escalation', 'business_add', ARRAY['text', 'timestamp with time zone', 'interval']::name[]);
SELECT isnt_strict('escalation', 'business_time', ARRAY['text', 'timestamp with time zone', 'timestamp with time zone']::name[]);

-- keys
SELECT col_is_pk('escalation', 'teams', 'name', 'escalation.teams is keyed by name');
SELECT col_is_pk('escalation', 'agents', 'agent_id', 'escalation.agents is keyed by agent_id');
SELECT col_is_pk('escalation', 'skills', 'name', 'escalation.skills is keyed by name');
SELECT col_is_pk('escalation', 'accounts', 'account_key', 'escalation.accounts is keyed by account_key');
SELECT col_is_pk('escalation', 'sources', 'source_id', 'escalation.sources is keyed by source_id');
SELECT col_is_pk('escalation', 'rules', 'rule_id', 'escalation.rules is keyed by rule_id');
SELECT col_is_pk('escalation', 'escalations', 'escalation_id', 'escalation.escalations is keyed by escalation_id');
SELECT col_is_pk('escalation', 'events', 'event_id', 'escalation.events is keyed by event_id');
SELECT col_is_pk('escalation', 'agent_skills', ARRAY['agent_id', 'skill'], 'escalation.agent_skills is keyed by agent and skill');
SELECT col_is_pk('escalation', 'first_responses', ARRAY['source_id', 'ticket_key'], 'escalation.first_responses is keyed by source and ticket');
SELECT col_not_null('escalation', 'escalations', 'source_id', 'escalation.escalations.source_id is NOT NULL');
SELECT col_not_null('escalation', 'escalations', 'ticket_key', 'escalation.escalations.ticket_key is NOT NULL');
SELECT col_not_null('escalation', 'escalations', 'level', 'escalation.escalations.level is NOT NULL');
SELECT col_not_null('escalation', 'escalations', 'kind', 'escalation.escalations.kind is NOT NULL');
SELECT col_not_null('escalation', 'escalations', 'origin', 'escalation.escalations.origin is NOT NULL');
SELECT col_is_null('escalation', 'escalations', 'tenant', 'escalation.escalations.tenant is nullable (NULL: no tenant)');
SELECT col_not_null('escalation', 'escalations', 'status', 'escalation.escalations.status is NOT NULL');
SELECT col_not_null('escalation', 'escalations', 'severity', 'escalation.escalations.severity is NOT NULL');
SELECT col_not_null('escalation', 'escalations', 'reasons', 'escalation.escalations.reasons is NOT NULL');
SELECT col_not_null('escalation', 'escalations', 'context', 'escalation.escalations.context is NOT NULL');
SELECT col_not_null('escalation', 'escalations', 'created_at', 'escalation.escalations.created_at is NOT NULL');
SELECT col_not_null('escalation', 'escalations', 'updated_at', 'escalation.escalations.updated_at is NOT NULL');
SELECT col_not_null('escalation', 'events', 'escalation_id', 'escalation.events.escalation_id is NOT NULL');
SELECT col_not_null('escalation', 'events', 'source_id', 'escalation.events.source_id is NOT NULL');
SELECT col_not_null('escalation', 'events', 'ticket_key', 'escalation.events.ticket_key is NOT NULL');
SELECT col_not_null('escalation', 'events', 'event', 'escalation.events.event is NOT NULL');
SELECT col_not_null('escalation', 'events', 'to_status', 'escalation.events.to_status is NOT NULL');
SELECT col_not_null('escalation', 'events', 'at', 'escalation.events.at is NOT NULL');
SELECT col_not_null('escalation', 'sources', 'name', 'escalation.sources.name is NOT NULL');
SELECT col_not_null('escalation', 'sources', 'ticket_table', 'escalation.sources.ticket_table is NOT NULL');
SELECT col_not_null('escalation', 'sources', 'mapping', 'escalation.sources.mapping is NOT NULL');
SELECT col_not_null('escalation', 'sources', 'value_maps', 'escalation.sources.value_maps is NOT NULL');
SELECT col_not_null('escalation', 'sources', 'lookups', 'escalation.sources.lookups is NOT NULL');
SELECT col_not_null('escalation', 'sources', 'ts_config', 'escalation.sources.ts_config is NOT NULL');
SELECT col_not_null('escalation', 'sources', 'time_zone', 'escalation.sources.time_zone is NOT NULL');
SELECT col_not_null('escalation', 'sources', 'attached', 'escalation.sources.attached is NOT NULL');
SELECT col_not_null('escalation', 'rules', 'name', 'escalation.rules.name is NOT NULL');
SELECT col_not_null('escalation', 'rules', 'enabled', 'escalation.rules.enabled is NOT NULL');
SELECT col_not_null('escalation', 'rules', 'applies_to', 'escalation.rules.applies_to is NOT NULL');
SELECT col_not_null('escalation', 'rules', 'case_sensitive', 'escalation.rules.case_sensitive is NOT NULL');
SELECT col_not_null('escalation', 'rules', 'kind', 'escalation.rules.kind is NOT NULL');
SELECT col_not_null('escalation', 'rules', 'severity', 'escalation.rules.severity is NOT NULL');
SELECT col_not_null('escalation', 'rules', 'level', 'escalation.rules.level is NOT NULL');
SELECT col_not_null('escalation', 'first_responses', 'responded_at', 'escalation.first_responses.responded_at is NOT NULL');
SELECT col_not_null('escalation', 'agents', 'capacity', 'escalation.agents.capacity is NOT NULL');
SELECT col_not_null('escalation', 'agents', 'languages', 'escalation.agents.languages is NOT NULL');
SELECT col_not_null('escalation', 'agents', 'time_zone', 'escalation.agents.time_zone is NOT NULL');
SELECT col_not_null('escalation', 'agents', 'availability', 'escalation.agents.availability is NOT NULL');
SELECT col_not_null('escalation', 'agents', 'active', 'escalation.agents.active is NOT NULL');
SELECT col_not_null('escalation', 'accounts', 'tier', 'escalation.accounts.tier is NOT NULL');
SELECT col_not_null('escalation', 'accounts', 'vip', 'escalation.accounts.vip is NOT NULL');
SELECT has_index('escalation', 'escalations', 'escalations_one_open', ARRAY['source_id', 'ticket_key', 'level', 'target_key']);
SELECT index_is_unique('escalation', 'escalations', 'escalations_one_open');
SELECT index_is_unique('escalation', 'sources', 'sources_attached_table');
SELECT index_is_unique('escalation', 'sources', 'sources_attached_name');
SELECT fk_ok('escalation', 'rules', 'target_team', 'escalation', 'teams', 'name');
SELECT col_is_pk('escalation', 'calendars', 'calendar_id', 'escalation.calendars is keyed by calendar_id');
SELECT col_is_pk('escalation', 'calendar_hours', ARRAY['calendar_id', 'weekday', 'starts'], 'escalation.calendar_hours is keyed by calendar, weekday and start');
SELECT col_is_pk('escalation', 'calendar_holidays', ARRAY['calendar_id', 'day'], 'escalation.calendar_holidays is keyed by calendar and day');
SELECT fk_ok('escalation', 'sentiment_terms', 'source_id', 'escalation', 'sources', 'source_id');
SELECT fk_ok('escalation', 'calendar_hours', 'calendar_id', 'escalation', 'calendars', 'calendar_id');
SELECT fk_ok('escalation', 'calendar_holidays', 'calendar_id', 'escalation', 'calendars', 'calendar_id');

-- triggers on the extension's own tables
SELECT has_trigger('escalation', 'escalations', 'check_transition', 'escalation.escalations has trigger check_transition');
SELECT has_trigger('escalation', 'escalations', 'record_event', 'escalation.escalations has trigger record_event');
SELECT has_trigger('escalation', 'rules', 'validate_rule', 'escalation.rules has trigger validate_rule');
SELECT has_trigger('escalation', 'rules', 'invalidate_cache', 'escalation.rules has trigger invalidate_cache');
SELECT has_trigger('escalation', 'sources', 'invalidate_cache', 'escalation.sources has trigger invalidate_cache');
SELECT has_trigger('escalation', 'accounts', 'invalidate_cache', 'escalation.accounts has trigger invalidate_cache');
SELECT has_trigger('escalation', 'teams', 'invalidate_cache', 'escalation.teams has trigger invalidate_cache');
SELECT has_trigger('escalation', 'sentiment_terms', 'invalidate_cache', 'escalation.sentiment_terms has trigger invalidate_cache');
SELECT has_trigger('escalation', 'calendars', 'invalidate_cache', 'escalation.calendars has trigger invalidate_cache');
SELECT has_trigger('escalation', 'calendar_hours', 'invalidate_cache', 'escalation.calendar_hours has trigger invalidate_cache');
SELECT has_trigger('escalation', 'calendar_holidays', 'invalidate_cache', 'escalation.calendar_holidays has trigger invalidate_cache');
SELECT has_trigger('escalation', 'calendar_hours', 'validate_calendar_hours', 'escalation.calendar_hours has trigger validate_calendar_hours');
SELECT has_trigger('escalation', 'calendar_hours', 'calendar_hours_no_overlap', 'escalation.calendar_hours has constraint trigger calendar_hours_no_overlap');

-- views
SELECT has_view('escalation', 'workers', 'view escalation.workers exists');
SELECT columns_are('escalation', 'workers', ARRAY['database', 'pid', 'state', 'started', 'last_cycle_start', 'last_cycle_end', 'items_last_cycle', 'items_total', 'cycles', 'errors', 'last_error', 'last_error_at', 'next_start', 'datid']);

-- roles
SELECT has_role('escalation_worker');
SELECT isnt_superuser('escalation_worker');
SELECT is((SELECT rolcanlogin FROM pg_catalog.pg_roles WHERE rolname = 'escalation_worker'), false,
    'escalation_worker cannot log in (the worker switches to it)');
SELECT has_role('escalation_admin');
SELECT isnt_superuser('escalation_admin');
SELECT has_role('escalation_agent');
SELECT isnt_superuser('escalation_agent');
SELECT has_role('escalation_analyst');
SELECT isnt_superuser('escalation_analyst');

-- SECURITY DEFINER: exactly the state transitions, each with search_path pinned
SELECT is_definer('escalation', 'accept', ARRAY['bigint', 'text', 'timestamp with time zone']::name[]);
SELECT isnt_definer('escalation', 'attach', ARRAY['regclass', 'text', 'text', 'jsonb', 'text', 'text', 'text', 'text', 'jsonb', 'text', 'text', 'text', 'text', 'text', 'text', 'text', 'jsonb', 'jsonb', 'regclass', 'text', 'text', 'text', 'text', 'jsonb', 'text', 'regconfig', 'text', 'text', 'text', 'jsonb', 'text', 'jsonb', 'text', 'regclass', 'text', 'text']::name[]);
SELECT is_definer('escalation', 'cancel', ARRAY['bigint', 'text', 'timestamp with time zone']::name[]);
SELECT isnt_definer('escalation', 'detach', ARRAY['regclass']::name[]);
SELECT is_definer('escalation', 'escalate', ARRAY['regclass', 'text', 'text', 'text[]', 'integer', 'text', 'integer', 'text', 'jsonb', 'integer', 'timestamp with time zone']::name[]);
SELECT isnt_definer('escalation', 'explain', ARRAY['regclass', 'text', 'timestamp with time zone']::name[]);
SELECT is_definer('escalation', 'resolve', ARRAY['bigint', 'text', 'timestamp with time zone']::name[]);
SELECT isnt_definer('escalation', 'set_status', ARRAY['bigint', 'text', 'text', 'text', 'timestamp with time zone']::name[]);
SELECT isnt_definer('escalation', 'ticket_context', ARRAY['integer', 'text']::name[]);
SELECT is_empty(
    $$SELECT p.oid::regprocedure::text FROM pg_catalog.pg_proc p
       WHERE p.pronamespace = 'escalation'::regnamespace AND p.prosecdef
         AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) c WHERE c LIKE 'search\_path=%')$$,
    'every SECURITY DEFINER function in schema escalation pins search_path');
SELECT is_empty(
    $$SELECT p.oid::regprocedure::text FROM pg_catalog.pg_proc p
       WHERE p.pronamespace = 'escalation'::regnamespace AND p.prosecdef
         AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) c
                          WHERE c = 'search_path=pg_catalog, pg_temp')$$,
    'and pins it to pg_catalog, pg_temp');
SELECT is_empty(
    $$SELECT p.oid::regprocedure::text FROM pg_catalog.pg_proc p
       JOIN pg_catalog.pg_language l ON l.oid = p.prolang
       WHERE p.pronamespace = 'escalation'::regnamespace AND l.lanname = 'plpgsql'
         AND p.proconfig IS NULL$$,
    'every PL/pgSQL function in schema escalation pins search_path');

-- who may call what
SELECT function_privs_are('escalation', 'attach', ARRAY['regclass', 'text', 'text', 'jsonb', 'text', 'text', 'text', 'text', 'jsonb', 'text', 'text', 'text', 'text', 'text', 'text', 'text', 'jsonb', 'jsonb', 'regclass', 'text', 'text', 'text', 'text', 'jsonb', 'text', 'regconfig', 'text', 'text', 'text', 'jsonb', 'text', 'jsonb', 'text', 'regclass', 'text', 'text']::name[], 'public', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'attach', ARRAY['regclass', 'text', 'text', 'jsonb', 'text', 'text', 'text', 'text', 'jsonb', 'text', 'text', 'text', 'text', 'text', 'text', 'text', 'jsonb', 'jsonb', 'regclass', 'text', 'text', 'text', 'text', 'jsonb', 'text', 'regconfig', 'text', 'text', 'text', 'jsonb', 'text', 'jsonb', 'text', 'regclass', 'text', 'text']::name[], 'escalation_admin', ARRAY['EXECUTE']);
SELECT function_privs_are('escalation', 'attach', ARRAY['regclass', 'text', 'text', 'jsonb', 'text', 'text', 'text', 'text', 'jsonb', 'text', 'text', 'text', 'text', 'text', 'text', 'text', 'jsonb', 'jsonb', 'regclass', 'text', 'text', 'text', 'text', 'jsonb', 'text', 'regconfig', 'text', 'text', 'text', 'jsonb', 'text', 'jsonb', 'text', 'regclass', 'text', 'text']::name[], 'escalation_agent', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'attach', ARRAY['regclass', 'text', 'text', 'jsonb', 'text', 'text', 'text', 'text', 'jsonb', 'text', 'text', 'text', 'text', 'text', 'text', 'text', 'jsonb', 'jsonb', 'regclass', 'text', 'text', 'text', 'text', 'jsonb', 'text', 'regconfig', 'text', 'text', 'text', 'jsonb', 'text', 'jsonb', 'text', 'regclass', 'text', 'text']::name[], 'escalation_analyst', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'sentiment', ARRAY['text']::name[], 'public', ARRAY['EXECUTE']);
SELECT function_privs_are('escalation', 'sentiment_detail', ARRAY['text', 'integer']::name[], 'public', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'sentiment_detail', ARRAY['text', 'integer']::name[], 'escalation_agent', ARRAY['EXECUTE']);
SELECT function_privs_are('escalation', 'detach', ARRAY['regclass']::name[], 'public', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'detach', ARRAY['regclass']::name[], 'escalation_admin', ARRAY['EXECUTE']);
SELECT function_privs_are('escalation', 'detach', ARRAY['regclass']::name[], 'escalation_agent', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'detach', ARRAY['regclass']::name[], 'escalation_analyst', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'escalate', ARRAY['regclass', 'text', 'text', 'text[]', 'integer', 'text', 'integer', 'text', 'jsonb', 'integer', 'timestamp with time zone']::name[], 'public', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'escalate', ARRAY['regclass', 'text', 'text', 'text[]', 'integer', 'text', 'integer', 'text', 'jsonb', 'integer', 'timestamp with time zone']::name[], 'escalation_admin', ARRAY['EXECUTE']);
SELECT function_privs_are('escalation', 'escalate', ARRAY['regclass', 'text', 'text', 'text[]', 'integer', 'text', 'integer', 'text', 'jsonb', 'integer', 'timestamp with time zone']::name[], 'escalation_agent', ARRAY['EXECUTE']);
SELECT function_privs_are('escalation', 'escalate', ARRAY['regclass', 'text', 'text', 'text[]', 'integer', 'text', 'integer', 'text', 'jsonb', 'integer', 'timestamp with time zone']::name[], 'escalation_analyst', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'accept', ARRAY['bigint', 'text', 'timestamp with time zone']::name[], 'public', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'accept', ARRAY['bigint', 'text', 'timestamp with time zone']::name[], 'escalation_admin', ARRAY['EXECUTE']);
SELECT function_privs_are('escalation', 'accept', ARRAY['bigint', 'text', 'timestamp with time zone']::name[], 'escalation_agent', ARRAY['EXECUTE']);
SELECT function_privs_are('escalation', 'accept', ARRAY['bigint', 'text', 'timestamp with time zone']::name[], 'escalation_analyst', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'resolve', ARRAY['bigint', 'text', 'timestamp with time zone']::name[], 'public', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'resolve', ARRAY['bigint', 'text', 'timestamp with time zone']::name[], 'escalation_admin', ARRAY['EXECUTE']);
SELECT function_privs_are('escalation', 'resolve', ARRAY['bigint', 'text', 'timestamp with time zone']::name[], 'escalation_agent', ARRAY['EXECUTE']);
SELECT function_privs_are('escalation', 'resolve', ARRAY['bigint', 'text', 'timestamp with time zone']::name[], 'escalation_analyst', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'cancel', ARRAY['bigint', 'text', 'timestamp with time zone']::name[], 'public', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'cancel', ARRAY['bigint', 'text', 'timestamp with time zone']::name[], 'escalation_admin', ARRAY['EXECUTE']);
SELECT function_privs_are('escalation', 'cancel', ARRAY['bigint', 'text', 'timestamp with time zone']::name[], 'escalation_agent', ARRAY['EXECUTE']);
SELECT function_privs_are('escalation', 'cancel', ARRAY['bigint', 'text', 'timestamp with time zone']::name[], 'escalation_analyst', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'explain', ARRAY['regclass', 'text', 'timestamp with time zone']::name[], 'public', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'explain', ARRAY['regclass', 'text', 'timestamp with time zone']::name[], 'escalation_admin', ARRAY['EXECUTE']);
SELECT function_privs_are('escalation', 'explain', ARRAY['regclass', 'text', 'timestamp with time zone']::name[], 'escalation_agent', ARRAY['EXECUTE']);
SELECT function_privs_are('escalation', 'explain', ARRAY['regclass', 'text', 'timestamp with time zone']::name[], 'escalation_analyst', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'ticket_context', ARRAY['integer', 'text']::name[], 'public', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'ticket_context', ARRAY['integer', 'text']::name[], 'escalation_admin', ARRAY['EXECUTE']);
SELECT function_privs_are('escalation', 'ticket_context', ARRAY['integer', 'text']::name[], 'escalation_agent', ARRAY['EXECUTE']);
SELECT function_privs_are('escalation', 'ticket_context', ARRAY['integer', 'text']::name[], 'escalation_analyst', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'set_status', ARRAY['bigint', 'text', 'text', 'text', 'timestamp with time zone']::name[], 'public', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'set_status', ARRAY['bigint', 'text', 'text', 'text', 'timestamp with time zone']::name[], 'escalation_admin', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'set_status', ARRAY['bigint', 'text', 'text', 'text', 'timestamp with time zone']::name[], 'escalation_agent', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'set_status', ARRAY['bigint', 'text', 'text', 'text', 'timestamp with time zone']::name[], 'escalation_analyst', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'match_keywords', ARRAY['text', 'text[]', 'regconfig']::name[], 'public', ARRAY['EXECUTE']);
SELECT function_privs_are('escalation', 'match_keywords', ARRAY['text', 'text[]', 'regconfig']::name[], 'escalation_admin', ARRAY['EXECUTE']);
SELECT function_privs_are('escalation', 'match_keywords', ARRAY['text', 'text[]', 'regconfig']::name[], 'escalation_agent', ARRAY['EXECUTE']);
SELECT function_privs_are('escalation', 'match_keywords', ARRAY['text', 'text[]', 'regconfig']::name[], 'escalation_analyst', ARRAY['EXECUTE']);
SELECT function_privs_are('escalation', 'keyword_lexemes', ARRAY['text', 'regconfig']::name[], 'public', ARRAY['EXECUTE']);
SELECT has_function('escalation', 'pattern_shape', ARRAY['text', 'boolean']::name[]);
SELECT function_privs_are('escalation', 'pattern_shape', ARRAY['text', 'boolean']::name[], 'public', ARRAY['EXECUTE']);
SELECT function_privs_are('escalation', 'pattern_runs', ARRAY[]::name[], 'public', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'keyword_lexemes', ARRAY['text', 'regconfig']::name[], 'escalation_admin', ARRAY['EXECUTE']);
SELECT function_privs_are('escalation', 'keyword_lexemes', ARRAY['text', 'regconfig']::name[], 'escalation_agent', ARRAY['EXECUTE']);
SELECT function_privs_are('escalation', 'keyword_lexemes', ARRAY['text', 'regconfig']::name[], 'escalation_analyst', ARRAY['EXECUTE']);

SELECT function_privs_are('escalation', 'business_add', ARRAY['text', 'timestamp with time zone', 'interval']::name[], 'public', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'business_add', ARRAY['text', 'timestamp with time zone', 'interval']::name[], 'escalation_admin', ARRAY['EXECUTE']);
SELECT function_privs_are('escalation', 'business_add', ARRAY['text', 'timestamp with time zone', 'interval']::name[], 'escalation_agent', ARRAY['EXECUTE']);
SELECT function_privs_are('escalation', 'business_add', ARRAY['text', 'timestamp with time zone', 'interval']::name[], 'escalation_analyst', ARRAY['EXECUTE']);
SELECT function_privs_are('escalation', 'business_time', ARRAY['text', 'timestamp with time zone', 'timestamp with time zone']::name[], 'public', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'business_time', ARRAY['text', 'timestamp with time zone', 'timestamp with time zone']::name[], 'escalation_admin', ARRAY['EXECUTE']);
SELECT function_privs_are('escalation', 'business_time', ARRAY['text', 'timestamp with time zone', 'timestamp with time zone']::name[], 'escalation_agent', ARRAY['EXECUTE']);
SELECT function_privs_are('escalation', 'business_time', ARRAY['text', 'timestamp with time zone', 'timestamp with time zone']::name[], 'escalation_analyst', ARRAY['EXECUTE']);
SELECT function_privs_are('escalation', 'business_periods', ARRAY['text', 'timestamp with time zone', 'timestamp with time zone']::name[], 'public', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'business_periods', ARRAY['text', 'timestamp with time zone', 'timestamp with time zone']::name[], 'escalation_admin', ARRAY['EXECUTE']);
SELECT function_privs_are('escalation', 'business_periods', ARRAY['text', 'timestamp with time zone', 'timestamp with time zone']::name[], 'escalation_agent', ARRAY['EXECUTE']);
SELECT function_privs_are('escalation', 'business_periods', ARRAY['text', 'timestamp with time zone', 'timestamp with time zone']::name[], 'escalation_analyst', ARRAY['EXECUTE']);

SELECT function_privs_are('escalation', 'worker_status', ARRAY[]::name[], 'public', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'worker_status', ARRAY[]::name[], 'escalation_admin', ARRAY['EXECUTE']);
SELECT function_privs_are('escalation', 'worker_status', ARRAY[]::name[], 'escalation_agent', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'worker_status', ARRAY[]::name[], 'escalation_analyst', ARRAY['EXECUTE']);
SELECT function_privs_are('escalation', 'worker_status', ARRAY[]::name[], 'pg_monitor', ARRAY['EXECUTE']);
SELECT function_privs_are('escalation', 'wakeup', ARRAY[]::name[], 'public', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'wakeup', ARRAY[]::name[], 'escalation_admin', ARRAY['EXECUTE']);
SELECT function_privs_are('escalation', 'wakeup', ARRAY[]::name[], 'escalation_agent', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'wakeup', ARRAY[]::name[], 'escalation_analyst', ARRAY[]::name[]);

-- who may read and write what
SELECT table_privs_are('escalation', 'workers', 'public', ARRAY[]::name[]);
SELECT table_privs_are('escalation', 'workers', 'escalation_admin', ARRAY['SELECT']::name[]);
SELECT table_privs_are('escalation', 'workers', 'escalation_agent', ARRAY[]::name[]);
SELECT table_privs_are('escalation', 'workers', 'escalation_analyst', ARRAY['SELECT']::name[]);
SELECT table_privs_are('escalation', 'workers', 'pg_monitor', ARRAY['SELECT']::name[]);
SELECT table_privs_are('escalation', 'workers', 'escalation_worker', ARRAY[]::name[]);
SELECT table_privs_are('escalation', 'accounts', 'public', ARRAY[]::name[]);
SELECT table_privs_are('escalation', 'accounts', 'escalation_admin', ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE']::name[]);
SELECT table_privs_are('escalation', 'accounts', 'escalation_agent', ARRAY['SELECT']::name[]);
SELECT table_privs_are('escalation', 'accounts', 'escalation_analyst', ARRAY[]::name[]);
SELECT table_privs_are('escalation', 'agent_skills', 'public', ARRAY[]::name[]);
SELECT table_privs_are('escalation', 'agent_skills', 'escalation_admin', ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE']::name[]);
SELECT table_privs_are('escalation', 'agent_skills', 'escalation_agent', ARRAY['SELECT']::name[]);
SELECT table_privs_are('escalation', 'agent_skills', 'escalation_analyst', ARRAY[]::name[]);
SELECT table_privs_are('escalation', 'agents', 'public', ARRAY[]::name[]);
SELECT table_privs_are('escalation', 'agents', 'escalation_admin', ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE']::name[]);
SELECT table_privs_are('escalation', 'agents', 'escalation_agent', ARRAY['SELECT']::name[]);
SELECT table_privs_are('escalation', 'agents', 'escalation_analyst', ARRAY['SELECT']::name[]);
SELECT table_privs_are('escalation', 'calendar_holidays', 'public', ARRAY[]::name[]);
SELECT table_privs_are('escalation', 'calendar_holidays', 'escalation_admin', ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE']::name[]);
SELECT table_privs_are('escalation', 'calendar_holidays', 'escalation_agent', ARRAY['SELECT']::name[]);
SELECT table_privs_are('escalation', 'calendar_holidays', 'escalation_analyst', ARRAY['SELECT']::name[]);
SELECT table_privs_are('escalation', 'calendar_hours', 'public', ARRAY[]::name[]);
SELECT table_privs_are('escalation', 'calendar_hours', 'escalation_admin', ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE']::name[]);
SELECT table_privs_are('escalation', 'calendar_hours', 'escalation_agent', ARRAY['SELECT']::name[]);
SELECT table_privs_are('escalation', 'calendar_hours', 'escalation_analyst', ARRAY['SELECT']::name[]);
SELECT table_privs_are('escalation', 'calendars', 'public', ARRAY[]::name[]);
SELECT table_privs_are('escalation', 'calendars', 'escalation_admin', ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE']::name[]);
SELECT table_privs_are('escalation', 'calendars', 'escalation_agent', ARRAY['SELECT']::name[]);
SELECT table_privs_are('escalation', 'calendars', 'escalation_analyst', ARRAY['SELECT']::name[]);
SELECT table_privs_are('escalation', 'escalations', 'public', ARRAY[]::name[]);
SELECT table_privs_are('escalation', 'escalations', 'escalation_admin', ARRAY['SELECT']::name[]);
SELECT table_privs_are('escalation', 'escalations', 'escalation_agent', ARRAY['SELECT']::name[]);
SELECT table_privs_are('escalation', 'escalations', 'escalation_analyst', ARRAY['SELECT']::name[]);
SELECT table_privs_are('escalation', 'events', 'public', ARRAY[]::name[]);
SELECT table_privs_are('escalation', 'events', 'escalation_admin', ARRAY['SELECT']::name[]);
SELECT table_privs_are('escalation', 'events', 'escalation_agent', ARRAY['SELECT']::name[]);
SELECT table_privs_are('escalation', 'events', 'escalation_analyst', ARRAY['SELECT']::name[]);
SELECT table_privs_are('escalation', 'first_responses', 'public', ARRAY[]::name[]);
SELECT table_privs_are('escalation', 'first_responses', 'escalation_admin', ARRAY['SELECT']::name[]);
SELECT table_privs_are('escalation', 'first_responses', 'escalation_agent', ARRAY[]::name[]);
SELECT table_privs_are('escalation', 'first_responses', 'escalation_analyst', ARRAY['SELECT']::name[]);
SELECT table_privs_are('escalation', 'rules', 'public', ARRAY[]::name[]);
SELECT table_privs_are('escalation', 'rules', 'escalation_admin', ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE']::name[]);
SELECT table_privs_are('escalation', 'rules', 'escalation_agent', ARRAY['SELECT']::name[]);
SELECT table_privs_are('escalation', 'rules', 'escalation_analyst', ARRAY['SELECT']::name[]);
SELECT table_privs_are('escalation', 'skills', 'public', ARRAY[]::name[]);
SELECT table_privs_are('escalation', 'skills', 'escalation_admin', ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE']::name[]);
SELECT table_privs_are('escalation', 'skills', 'escalation_agent', ARRAY['SELECT']::name[]);
SELECT table_privs_are('escalation', 'skills', 'escalation_analyst', ARRAY[]::name[]);
SELECT table_privs_are('escalation', 'sources', 'public', ARRAY[]::name[]);
SELECT table_privs_are('escalation', 'sources', 'escalation_admin', ARRAY['SELECT', 'INSERT', 'UPDATE']::name[]);
SELECT table_privs_are('escalation', 'sources', 'escalation_agent', ARRAY['SELECT']::name[]);
SELECT table_privs_are('escalation', 'sources', 'escalation_analyst', ARRAY['SELECT']::name[]);
SELECT table_privs_are('escalation', 'teams', 'public', ARRAY[]::name[]);
SELECT table_privs_are('escalation', 'teams', 'escalation_admin', ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE']::name[]);
SELECT table_privs_are('escalation', 'teams', 'escalation_agent', ARRAY['SELECT']::name[]);
SELECT table_privs_are('escalation', 'teams', 'escalation_analyst', ARRAY['SELECT']::name[]);

-- the schema
SELECT schema_privs_are('escalation', 'public', ARRAY[]::name[]);
SELECT schema_privs_are('escalation', 'escalation_admin', ARRAY['USAGE']);
SELECT schema_privs_are('escalation', 'escalation_agent', ARRAY['USAGE']);
SELECT schema_privs_are('escalation', 'escalation_analyst', ARRAY['USAGE']);
SELECT schema_privs_are('escalation', 'escalation_worker', ARRAY['USAGE']);

-- the GUCs exist with their defaults
SELECT is(current_setting('escalation.enabled'), 'on', 'escalation.enabled defaults to on');
SELECT is(current_setting('escalation.context_messages'), '5', 'escalation.context_messages defaults to 5');
SELECT is(current_setting('escalation.context_tickets'), '5', 'escalation.context_tickets defaults to 5');
SELECT is((SELECT context FROM pg_settings WHERE name = 'escalation.enabled'), 'superuser', 'escalation.enabled is superuser-only');


-- SLA: the cycle, recompute, what-if and calibration
SELECT is_definer('escalation', 'run_batch', ARRAY['timestamp with time zone', 'integer']::name[]);
SELECT is_definer('escalation', 'run_cycle', ARRAY['timestamp with time zone']::name[]);
SELECT is_definer('escalation', 'recompute_sla', ARRAY['regclass', 'timestamp with time zone']::name[]);
SELECT is_definer('escalation', 'sla_what_if', ARRAY['regclass', 'timestamp with time zone']::name[]);
SELECT isnt_definer('escalation', 'sla_track_ticket', ARRAY['integer', 'text', 'timestamp with time zone', 'timestamp with time zone', 'text', 'text', 'text', 'text', 'text', 'jsonb']::name[]);
SELECT function_privs_are('escalation', 'run_cycle', ARRAY['timestamp with time zone']::name[], 'public', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'run_cycle', ARRAY['timestamp with time zone']::name[], 'escalation_admin', ARRAY['EXECUTE']);
SELECT function_privs_are('escalation', 'run_cycle', ARRAY['timestamp with time zone']::name[], 'escalation_agent', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'run_batch', ARRAY['timestamp with time zone', 'integer']::name[], 'public', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'run_batch', ARRAY['timestamp with time zone', 'integer']::name[], 'escalation_analyst', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'sla_track_ticket', ARRAY['integer', 'text', 'timestamp with time zone', 'timestamp with time zone', 'text', 'text', 'text', 'text', 'text', 'jsonb']::name[], 'public', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'sla_track_ticket', ARRAY['integer', 'text', 'timestamp with time zone', 'timestamp with time zone', 'text', 'text', 'text', 'text', 'text', 'jsonb']::name[], 'escalation_admin', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'sla_what_if', ARRAY['regclass', 'timestamp with time zone']::name[], 'escalation_analyst', ARRAY['EXECUTE']);
SELECT table_privs_are('escalation', 'clock_firings', 'escalation_admin', ARRAY['SELECT']);
SELECT table_privs_are('escalation', 'sla_policies', 'escalation_admin', ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE']);
SELECT table_privs_are('escalation', 'sla_policies', 'escalation_analyst', ARRAY['SELECT']);
SELECT table_privs_are('escalation', 'clocks', 'public', ARRAY[]::name[]);
SELECT col_is_pk('escalation', 'clock_firings', ARRAY['clock_id', 'step'], 'a step of a clock fires once');
SELECT has_index('escalation', 'clocks', 'clocks_next', ARRAY['next_at']);
SELECT col_is_unique('escalation', 'notifications', ARRAY['clock_id', 'step'], 'a notification per step');
SELECT fk_ok('escalation', 'sla_targets', 'policy_id', 'escalation', 'sla_policies', 'policy_id');
SELECT fk_ok('escalation', 'sla_ladder', ARRAY['policy_id', 'metric'], 'escalation', 'sla_targets', ARRAY['policy_id', 'metric']);
SELECT has_trigger('escalation', 'sla_policies', 'invalidate_cache', 'escalation.sla_policies has trigger invalidate_cache');
SELECT has_trigger('escalation', 'sla_policies', 'warn_policy_overlaps', 'escalation.sla_policies has trigger warn_policy_overlaps');
-- routing (issue 4)
SELECT has_table('escalation', 'assignments', 'table escalation.assignments exists');
SELECT has_table('escalation', 'routing_weights', 'table escalation.routing_weights exists');
SELECT has_table('escalation', 'routing_settings', 'table escalation.routing_settings exists');
SELECT has_table('escalation', 'routing_sources', 'table escalation.routing_sources exists');
SELECT index_is_unique('escalation', 'assignments', 'assignments_one_open');
SELECT col_type_is('escalation', 'routing_sources', 'after_write', 'regprocedure', 'a write-back hook is named by its signature');
SELECT has_trigger('escalation', 'routing_sources', 'validate_routing_source', 'a write-back hook is checked when configured');
SELECT function_privs_are('escalation', 'call_after_write', ARRAY['regprocedure', 'integer', 'text', 'text', 'bigint']::name[], 'escalation_admin', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'check_after_write', ARRAY['regprocedure', 'integer']::name[], 'escalation_admin', ARRAY['EXECUTE']);
SELECT col_type_is('escalation', 'sla_tickets', 'first_message_at', 'timestamp with time zone', 'a tracked ticket knows whether it was opened');
SELECT is_definer('escalation', 'route', ARRAY['timestamp with time zone', 'integer']::name[]);
SELECT is_definer('escalation', 'decline', ARRAY['bigint', 'text', 'text', 'timestamp with time zone']::name[]);
SELECT is_definer('escalation', 'reassign', ARRAY['bigint', 'text', 'text', 'timestamp with time zone']::name[]);
SELECT is_definer('escalation', 'reescalate', ARRAY['bigint', 'text', 'text', 'text[]', 'integer', 'text', 'timestamp with time zone']::name[]);
SELECT is_definer('escalation', 'handoff', ARRAY['regclass', 'text', 'text', 'text', 'text[]', 'jsonb', 'jsonb', 'text', 'integer', 'text', 'text', 'timestamp with time zone']::name[]);
SELECT isnt_definer('escalation', 'explain_route', ARRAY['bigint', 'timestamp with time zone']::name[]);
SELECT function_privs_are('escalation', 'route', ARRAY['timestamp with time zone', 'integer']::name[], 'public', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'route', ARRAY['timestamp with time zone', 'integer']::name[], 'escalation_agent', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'route', ARRAY['timestamp with time zone', 'integer']::name[], 'escalation_admin', ARRAY['EXECUTE']);
SELECT function_privs_are('escalation', 'offer', ARRAY['escalation.escalations', 'text', 'text', 'jsonb', 'text', 'timestamp with time zone']::name[], 'public', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'decline', ARRAY['bigint', 'text', 'text', 'timestamp with time zone']::name[], 'escalation_agent', ARRAY['EXECUTE']);
SELECT function_privs_are('escalation', 'handoff', ARRAY['regclass', 'text', 'text', 'text', 'text[]', 'jsonb', 'jsonb', 'text', 'integer', 'text', 'text', 'timestamp with time zone']::name[], 'escalation_agent', ARRAY['EXECUTE']);
SELECT function_privs_are('escalation', 'explain_route', ARRAY['bigint', 'timestamp with time zone']::name[], 'escalation_analyst', ARRAY[]::name[]);
SELECT table_privs_are('escalation', 'routing_weights', 'escalation_admin', ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE']);
SELECT table_privs_are('escalation', 'routing_weights', 'escalation_agent', ARRAY['SELECT']);
SELECT table_privs_are('escalation', 'assignments', 'escalation_admin', ARRAY['SELECT']);
SELECT table_privs_are('escalation', 'assignments', 'public', ARRAY[]::text[]);
-- the queue in urgency order: the SLA due time kept in the escalation, read from one index
SELECT has_column('escalation', 'escalations', 'sla_due_at', 'escalation.escalations.sla_due_at exists');
SELECT col_type_is('escalation', 'escalations', 'sla_due_at', 'timestamp with time zone', 'escalation.escalations.sla_due_at is a timestamptz');
SELECT col_is_null('escalation', 'escalations', 'sla_due_at', 'escalation.escalations.sla_due_at is nullable (NULL: no running clock)');
SELECT has_index('escalation', 'escalations', 'escalations_queue', ARRAY['severity', 'sla_due_at', 'created_at', 'escalation_id']);
SELECT has_trigger('escalation', 'escalations', 'sla_due', 'escalation.escalations has trigger sla_due');
SELECT has_trigger('escalation', 'clocks', 'sla_due_insert', 'escalation.clocks has trigger sla_due_insert');
SELECT has_trigger('escalation', 'clocks', 'sla_due_update', 'escalation.clocks has trigger sla_due_update');
SELECT has_trigger('escalation', 'clocks', 'sla_due_delete', 'escalation.clocks has trigger sla_due_delete');
SELECT function_privs_are('escalation', 'sla_due', ARRAY[]::name[], 'public', ARRAY[]::name[]);
SELECT is((SELECT attgenerated::text FROM pg_attribute WHERE attrelid = 'escalation.escalations'::regclass AND attname = 'account_key'), 's', 'escalation.escalations.account_key is generated from the context (continuity reads it from an index)');
SELECT is((SELECT attgenerated::text FROM pg_attribute WHERE attrelid = 'escalation.escalations'::regclass AND attname = 'requester'), 's', 'escalation.escalations.requester is generated from the context (continuity reads it from an index)');

SELECT has_trigger('escalation', 'sla_targets', 'validate_sla', 'escalation.sla_targets has trigger validate_sla');
SELECT has_trigger('escalation', 'sla_ladder', 'validate_sla', 'escalation.sla_ladder has trigger validate_sla');
-- hardening (issue 8): refusals when written, dropped tables, accounts for analysts
SELECT has_function('escalation', 'caller_sees_ticket', ARRAY['integer', 'text']::name[]);
SELECT has_function('escalation', 'check_calendar_in_use', ARRAY[]::name[]);
SELECT has_function('escalation', 'forget_dropped_tables', ARRAY[]::name[]);
SELECT has_function('escalation', 'keep_targeted_skills', ARRAY[]::name[]);
SELECT has_function('escalation', 'validate_sla_policy', ARRAY[]::name[]);
SELECT has_function('escalation', 'validate_tenant_role', ARRAY[]::name[]);
SELECT has_trigger('escalation', 'sla_policies', 'validate_sla_policy', 'escalation.sla_policies has trigger validate_sla_policy');
SELECT has_trigger('escalation', 'calendar_hours', 'calendar_hours_in_use', 'escalation.calendar_hours has constraint trigger calendar_hours_in_use');
SELECT has_trigger('escalation', 'metric_sources', 'validate_tenant_role', 'escalation.metric_sources has trigger validate_tenant_role');
SELECT has_trigger('escalation', 'skills', 'keep_targeted_skills', 'escalation.skills has trigger keep_targeted_skills');
SELECT has_function('escalation', 'guard_source', ARRAY[]::name[]);
SELECT has_function('escalation', 'guard_triage_schedule', ARRAY[]::name[]);
SELECT has_trigger('escalation', 'sources', 'guard_source', 'escalation.sources has trigger guard_source');
SELECT has_trigger('escalation', 'triage_schedules', 'guard_triage_schedule', 'escalation.triage_schedules has trigger guard_triage_schedule');
SELECT is((SELECT count(*)::int FROM pg_event_trigger e JOIN pg_depend d ON d.classid = 'pg_event_trigger'::regclass AND d.objid = e.oid
            JOIN pg_extension x ON x.oid = d.refobjid
           WHERE e.evtname = 'escalation_forget_dropped_tables' AND e.evtevent = 'sql_drop' AND x.extname = 'escalation'), 1,
    'event trigger escalation_forget_dropped_tables on sql_drop belongs to the extension');
SELECT policies_are('escalation', 'accounts', ARRAY['admins', 'agents', 'analysts']);
SELECT policy_roles_are('escalation', 'accounts', 'analysts', ARRAY['escalation_analyst']);
SELECT policy_cmd_is('escalation', 'accounts', 'analysts'::name, 'select', 'analysts read accounts only');

-- the tenant boundary per ticket (escalation.tenant_roles, tenant_visible())
SELECT has_function('escalation', 'tenant_visible', ARRAY['text']::name[]);
SELECT has_function('escalation', 'caller_tenant_visible', ARRAY['text']::name[]);
SELECT has_function('escalation', 'check_caller_tenant', ARRAY['bigint']::name[]);
SELECT function_privs_are('escalation', 'check_caller_tenant', ARRAY['bigint']::name[], 'public', ARRAY[]::text[]);
SELECT function_privs_are('escalation', 'caller_tenant_visible', ARRAY['text']::name[], 'public', ARRAY[]::text[]);
SELECT has_function('escalation', 'validate_tenant_roles', ARRAY[]::name[]);
SELECT has_trigger('escalation', 'tenant_roles', 'validate_tenant_roles', 'escalation.tenant_roles has trigger validate_tenant_roles');
SELECT col_is_pk('escalation', 'tenant_roles', 'tenant', 'escalation.tenant_roles is keyed by tenant');
SELECT has_column('escalation', 'fact_changes', 'tenant', 'the writer''s log carries the tenant');
SELECT col_type_is('escalation', 'fact_changes', 'rescore', 'boolean', 'the writer''s log says which writes the fold scores');
SELECT function_returns('escalation', 'ticket_sentiment', ARRAY['integer', 'text']::name[], 'double precision');
SELECT ok(NOT has_function_privilege('public', 'escalation.ticket_sentiment(integer, text)', 'EXECUTE'),
          'ticket_sentiment() reads tickets as the owner: not for PUBLIC');
SELECT ok(NOT has_function_privilege('escalation_analyst', 'escalation.ticket_sentiment(integer, text)', 'EXECUTE'),
          'ticket_sentiment() is not for analysts');
SELECT function_returns('escalation', 'check_indexes', ARRAY['integer']::name[], 'setof record');
SELECT isnt_definer('escalation', 'check_indexes', ARRAY['integer']::name[]);
SELECT function_privs_are('escalation', 'check_indexes', ARRAY['integer']::name[], 'public', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'check_indexes', ARRAY['integer']::name[], 'escalation_admin', ARRAY['EXECUTE']);
SELECT function_privs_are('escalation', 'check_indexes', ARRAY['integer']::name[], 'escalation_analyst', ARRAY[]::name[]);
-- escalations left to the worker (escalation.defer_escalations)
SELECT function_returns('escalation', 'record_pending', ARRAY['integer']::name[], 'integer');
SELECT is_definer('escalation', 'record_pending', ARRAY['integer']::name[]);
SELECT function_privs_are('escalation', 'record_pending', ARRAY['integer']::name[], 'public', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'record_pending', ARRAY['integer']::name[], 'escalation_admin', ARRAY['EXECUTE']);
SELECT function_privs_are('escalation', 'record_pending', ARRAY['integer']::name[], 'escalation_agent', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'record_pending', ARRAY['integer']::name[], 'escalation_worker', ARRAY['EXECUTE']);
SELECT is((SELECT c.relreplident::text FROM pg_catalog.pg_class c
            WHERE c.oid = 'escalation.pending_escalations'::regclass), 'f',
          'pending escalations are identified by the whole row when deletes are replicated');
SELECT has_index('escalation', 'pending_escalations', 'pending_escalations_at', ARRAY['at'],
                 'record_pending() reads the oldest pending escalations from an index, not by sorting the table');
SELECT ok((SELECT p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp'] FROM pg_proc p
            WHERE p.oid = 'escalation.record_pending(integer)'::regprocedure),
          'record_pending() pins search_path');
SELECT table_privs_are('escalation', 'pending_escalations', 'public', ARRAY[]::name[]);
SELECT table_privs_are('escalation', 'pending_escalations', 'escalation_admin', ARRAY['SELECT']::name[]);
SELECT table_privs_are('escalation', 'pending_escalations', 'escalation_agent', ARRAY[]::name[]);
SELECT table_privs_are('escalation', 'pending_escalations', 'escalation_worker', ARRAY[]::name[]);
SELECT is((SELECT count(*)::int FROM pg_catalog.pg_index i
            WHERE i.indrelid = 'escalation.pending_escalations'::regclass), 1,
          'the pending escalations have one index, the queue''s order, which the trigger keeps with its heap insert');
SELECT is((SELECT count(*)::int FROM pg_catalog.pg_extension e, unnest(e.extconfig) c
            WHERE e.extname = 'escalation' AND c = 'escalation.pending_escalations'::regclass),
          1, 'a dump keeps the pending escalations');
-- pending escalations the record statement rejected, set aside with their error
SELECT function_returns('escalation', 'retry_pending_failed', ARRAY[]::name[], 'integer');
SELECT is_definer('escalation', 'retry_pending_failed', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'retry_pending_failed', ARRAY[]::name[], 'public', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'retry_pending_failed', ARRAY[]::name[], 'escalation_admin', ARRAY['EXECUTE']);
SELECT function_privs_are('escalation', 'retry_pending_failed', ARRAY[]::name[], 'escalation_agent', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'retry_pending_failed', ARRAY[]::name[], 'escalation_worker', ARRAY[]::name[]);
SELECT ok((SELECT p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp'] FROM pg_proc p
            WHERE p.oid = 'escalation.retry_pending_failed()'::regprocedure),
          'retry_pending_failed() pins search_path');
SELECT table_privs_are('escalation', 'pending_failed', 'public', ARRAY[]::name[]);
SELECT table_privs_are('escalation', 'pending_failed', 'escalation_admin', ARRAY['SELECT', 'DELETE']::name[]);
SELECT table_privs_are('escalation', 'pending_failed', 'escalation_agent', ARRAY[]::name[]);
SELECT table_privs_are('escalation', 'pending_failed', 'escalation_worker', ARRAY[]::name[]);
SELECT policies_are('escalation', 'pending_failed', ARRAY['tenant'],
                    'pending escalations set aside are shown to administrators by the tenant policy');
SELECT ok((SELECT c.relrowsecurity FROM pg_catalog.pg_class c
            WHERE c.oid = 'escalation.pending_failed'::regclass),
          'pending escalations set aside have row-level security');
SELECT is((SELECT c.relreplident::text FROM pg_catalog.pg_class c
            WHERE c.oid = 'escalation.pending_failed'::regclass), 'f',
          'pending escalations set aside are identified by the whole row when deletes are replicated');
SELECT is((SELECT count(*)::int FROM pg_catalog.pg_extension e, unnest(e.extconfig) c
            WHERE e.extname = 'escalation' AND c = 'escalation.pending_failed'::regclass),
          1, 'a dump keeps the pending escalations set aside');
-- SLA clocks that could not fire, set aside with their error
SELECT function_returns('escalation', 'retry_failed_clocks', ARRAY[]::name[], 'integer');
SELECT is_definer('escalation', 'retry_failed_clocks', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'retry_failed_clocks', ARRAY[]::name[], 'public', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'retry_failed_clocks', ARRAY[]::name[], 'escalation_admin', ARRAY['EXECUTE']);
SELECT function_privs_are('escalation', 'retry_failed_clocks', ARRAY[]::name[], 'escalation_agent', ARRAY[]::name[]);
SELECT ok((SELECT p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp'] FROM pg_proc p
            WHERE p.oid = 'escalation.retry_failed_clocks()'::regprocedure),
          'retry_failed_clocks() pins search_path');
-- the trigger's SLA bookkeeping for tickets it has not seen: admin only, as
-- the caller (who must own the table); it becomes the owner itself
SELECT function_returns('escalation', 'backfill_sla', ARRAY['regclass', 'timestamp with time zone']::name[], 'bigint');
SELECT isnt_definer('escalation', 'backfill_sla', ARRAY['regclass', 'timestamp with time zone']::name[]);
SELECT function_privs_are('escalation', 'backfill_sla', ARRAY['regclass', 'timestamp with time zone']::name[], 'public', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'backfill_sla', ARRAY['regclass', 'timestamp with time zone']::name[], 'escalation_admin', ARRAY['EXECUTE']);
SELECT function_privs_are('escalation', 'backfill_sla', ARRAY['regclass', 'timestamp with time zone']::name[], 'escalation_agent', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'backfill_sla', ARRAY['regclass', 'timestamp with time zone']::name[], 'escalation_analyst', ARRAY[]::name[]);
-- what run_batch() does with a step that failed on its own: internal
SELECT function_privs_are('escalation', 'step_failed', ARRAY['text', 'text', 'text']::name[], 'public', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'step_failed', ARRAY['text', 'text', 'text']::name[], 'escalation_admin', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'fire_clocks_isolated', ARRAY['timestamp with time zone', 'integer']::name[], 'public', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'transient_error', ARRAY['text']::name[], 'public', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'claim_due_clocks', ARRAY['timestamp with time zone', 'integer']::name[], 'public', ARRAY[]::name[]);
SELECT table_privs_are('escalation', 'clock_failures', 'public', ARRAY[]::name[]);
SELECT table_privs_are('escalation', 'clock_failures', 'escalation_admin', ARRAY['SELECT', 'DELETE']::name[]);
SELECT table_privs_are('escalation', 'clock_failures', 'escalation_agent', ARRAY['SELECT']::name[]);
SELECT policies_are('escalation', 'clock_failures', ARRAY['tenant'],
                    'clocks set aside are shown by the tenant policy, as the clocks are');
SELECT col_is_pk('escalation', 'clock_failures', 'clock_id', 'a clock is set aside once');
SELECT is((SELECT count(*)::int FROM pg_catalog.pg_extension e, unnest(e.extconfig) c
            WHERE e.extname = 'escalation' AND c = 'escalation.clock_failures'::regclass),
          1, 'a dump keeps the clocks set aside');
-- routing decisions that failed, set aside: shown as the escalations are
SELECT table_privs_are('escalation', 'routing_failures', 'public', ARRAY[]::name[]);
SELECT table_privs_are('escalation', 'routing_failures', 'escalation_admin', ARRAY['SELECT', 'DELETE']::name[]);
SELECT table_privs_are('escalation', 'routing_failures', 'escalation_agent', ARRAY['SELECT']::name[]);
SELECT policies_are('escalation', 'routing_failures', ARRAY['tenant'],
                    'escalations set aside are shown by the tenant policy, as the escalations are');
SELECT col_is_pk('escalation', 'routing_failures', 'escalation_id', 'an escalation is set aside once');
SELECT is((SELECT count(*)::int FROM pg_catalog.pg_extension e, unnest(e.extconfig) c
            WHERE e.extname = 'escalation' AND c = 'escalation.routing_failures'::regclass),
          1, 'a dump keeps the escalations set aside');
SELECT function_returns('escalation', 'retry_routing_failures', ARRAY[]::name[], 'integer');
SELECT is_definer('escalation', 'retry_routing_failures', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'retry_routing_failures', ARRAY[]::name[], 'public', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'retry_routing_failures', ARRAY[]::name[], 'escalation_admin', ARRAY['EXECUTE']);
SELECT function_privs_are('escalation', 'retry_routing_failures', ARRAY[]::name[], 'escalation_agent', ARRAY[]::name[]);
SELECT ok((SELECT p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp'] FROM pg_proc p
            WHERE p.oid = 'escalation.retry_routing_failures()'::regprocedure),
          'retry_routing_failures() pins search_path');
SELECT function_privs_are('escalation', 'route_isolated', ARRAY['timestamp with time zone', 'integer']::name[], 'public', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'requeue_isolated', ARRAY['timestamp with time zone', 'integer']::name[], 'public', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'offers_to_take_back', ARRAY['timestamp with time zone', 'integer']::name[], 'public', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'routing_set_aside', ARRAY['bigint', 'timestamp with time zone', 'text', 'text', 'text']::name[], 'public', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'route_one', ARRAY['bigint', 'text', 'text[]', 'double precision[]', 'jsonb', 'text', 'timestamp with time zone']::name[], 'public', ARRAY[]::name[]);
-- what waits for the worker, for monitoring
SELECT function_returns('escalation', 'backlog', ARRAY['timestamp with time zone']::name[], 'setof record');
SELECT is_definer('escalation', 'backlog', ARRAY['timestamp with time zone']::name[]);
SELECT function_privs_are('escalation', 'backlog', ARRAY['timestamp with time zone']::name[], 'public', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'backlog', ARRAY['timestamp with time zone']::name[], 'escalation_admin', ARRAY['EXECUTE']);
SELECT function_privs_are('escalation', 'backlog', ARRAY['timestamp with time zone']::name[], 'pg_monitor', ARRAY['EXECUTE']);
SELECT function_privs_are('escalation', 'backlog', ARRAY['timestamp with time zone']::name[], 'escalation_agent', ARRAY[]::name[]);
SELECT ok((SELECT p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp', 'jit=off'] FROM pg_proc p
            WHERE p.oid = 'escalation.backlog(timestamptz)'::regprocedure),
          'backlog() pins search_path and keeps JIT off');
-- the requester's tickets off the write path (escalation.defer_requester_tickets)
SELECT function_returns('escalation', 'complete_contexts', ARRAY['integer']::name[], 'integer');
SELECT is_definer('escalation', 'complete_contexts', ARRAY['integer']::name[]);
SELECT function_privs_are('escalation', 'complete_contexts', ARRAY['integer']::name[], 'public', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'complete_contexts', ARRAY['integer']::name[], 'escalation_admin', ARRAY['EXECUTE']);
SELECT function_privs_are('escalation', 'complete_contexts', ARRAY['integer']::name[], 'escalation_agent', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'complete_context', ARRAY['bigint']::name[], 'public', ARRAY[]::name[]);
SELECT function_privs_are('escalation', 'requester_tickets', ARRAY['integer', 'text', 'text', 'text']::name[], 'public', ARRAY[]::name[]);
SELECT ok((SELECT p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp'] FROM pg_proc p
            WHERE p.oid = 'escalation.complete_contexts(integer)'::regprocedure)
          AND (SELECT p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp'] FROM pg_proc p
                WHERE p.oid = 'escalation.complete_context(bigint)'::regprocedure),
          'complete_context(s) pin search_path');
SELECT has_index('escalation', 'escalations', 'escalations_context_pending', ARRAY['escalation_id'],
                 'escalations waiting for their requester''s tickets are found by a partial index');
SELECT has_column('escalation', 'ticket_facts', 'tenant', 'ticket facts carry the tenant');
SELECT has_column('escalation', 'ticket_transfers', 'tenant', 'transfers carry the tenant');
SELECT has_column('escalation', 'metric_days', 'tenant', 'metric_days is kept per tenant');
SELECT has_column('escalation', 'metric_months', 'tenant', 'metric_months is kept per tenant');
SELECT has_column('escalation', 'metric_tte', 'tenant', 'metric_tte is kept per tenant');
SELECT has_column('escalation', 'metric_paths', 'tenant', 'metric_paths is kept per tenant');
SELECT has_column('escalation', 'ticket_paths', 'tenant', 'ticket_paths is kept per tenant');
SELECT is_empty($$SELECT c.relname FROM pg_class c
                  WHERE c.relnamespace = 'escalation'::regnamespace
                    AND c.relname IN ('escalations', 'events', 'assignments', 'sla_tickets', 'clocks',
                                      'clock_firings', 'clock_segments', 'notifications', 'ticket_facts',
                                      'ticket_transfers', 'metric_days', 'metric_months', 'metric_tte',
                                      'metric_paths', 'metric_tte_reasons', 'metric_resolution',
                                      'metric_resolution_fine', 'fact_deltas')
                    AND NOT (c.relrowsecurity AND EXISTS (SELECT 1 FROM pg_policy p
                                                          WHERE p.polrelid = c.oid AND p.polname = 'tenant'))$$,
    'the record, the facts and the rollups have row-level security with a tenant policy');
SELECT is_empty($$SELECT c.relname FROM pg_class c
                  WHERE c.relnamespace = 'escalation'::regnamespace AND c.relkind = 'r'
                    AND EXISTS (SELECT 1 FROM pg_attribute a
                                 WHERE a.attrelid = c.oid AND NOT a.attisdropped
                                   AND a.attname IN ('ticket_key', 'escalation_id', 'clock_id'))
                    AND NOT (c.relrowsecurity AND EXISTS (SELECT 1 FROM pg_policy p
                                                          WHERE p.polrelid = c.oid AND p.polname = 'tenant'))$$,
    'every table of per-ticket data (a ticket_key, escalation_id or clock_id column) has row-level security with a tenant policy');
SELECT policy_cmd_is('escalation', 'escalations', 'tenant'::name, 'select', 'the tenant policy on escalations filters reads only');

-- exact resolution percentiles and time to escalation by reason from
-- rollups; the fold's escalation side and rollup deltas set-based (issue 5)
SELECT has_column('escalation', 'metric_tte_reasons', 'tenant', 'metric_tte_reasons is kept per tenant');
SELECT has_column('escalation', 'metric_resolution', 'tenant', 'metric_resolution is kept per tenant');
SELECT has_column('escalation', 'metric_resolution_fine', 'tenant', 'metric_resolution_fine is kept per tenant');
SELECT col_type_is('escalation', 'metric_resolution', 'total', 'interval', 'metric_resolution sums the intervals themselves (exact means)');
SELECT col_type_is('escalation', 'metric_tte_reasons', 'total', 'interval', 'metric_tte_reasons sums the intervals themselves (exact means)');
SELECT is((SELECT attgenerated::text FROM pg_attribute WHERE attrelid = 'escalation.ticket_facts'::regclass AND attname = 'resolution'), 's',
          'escalation.ticket_facts.resolution is generated (resolved_at - created_at)');
SELECT has_index('escalation', 'ticket_facts', 'ticket_facts_resolution', ARRAY['source_id', 'resolution', 'priority', 'team', 'channel', 'tenant'], 'the last step of resolution_percentiles reads ticket_facts_resolution index-only (key source_id, resolution)');
SELECT has_index('escalation', 'metric_resolution_fine', 'metric_resolution_fine_key', ARRAY['source_id', 'dimension', 'value', 'bucket', 'n', 'tenant'], 'a group''s fine buckets are read index-only (key source_id, dimension, value, bucket)');
SELECT is((SELECT relpersistence::text FROM pg_class WHERE oid = 'escalation.fact_deltas'::regclass), 'u',
          'escalation.fact_deltas is unlogged (empty outside a fold''s transaction)');
SELECT is((SELECT count(*)::int FROM pg_extension x, unnest(x.extconfig) c WHERE x.extname = 'escalation'
            AND c IN ('escalation.metric_resolution'::regclass, 'escalation.metric_resolution_fine'::regclass,
                      'escalation.metric_tte_reasons'::regclass)), 3,
          'the new rollups are dumped with the data (pg_extension_config_dump)');
SELECT ok(NOT EXISTS (SELECT 1 FROM pg_extension x, unnest(x.extconfig) c WHERE x.extname = 'escalation'
                       AND c = 'escalation.fact_deltas'::regclass),
          'the fold''s staging table is not dumped');
SELECT function_returns('escalation', 'duration_bucket', ARRAY['interval', 'integer']::name[], 'bigint');
SELECT function_returns('escalation', 'duration_bucket_low', ARRAY['bigint', 'integer']::name[], 'interval');
SELECT function_returns('escalation', 'duration_bucket_high', ARRAY['bigint', 'integer']::name[], 'interval');
SELECT function_returns('escalation', 'histogram_find', ARRAY['bigint[]', 'integer[]', 'bigint']::name[], 'bigint[]');
SELECT volatility_is('escalation', 'duration_bucket', ARRAY['interval', 'integer']::name[], 'immutable');
SELECT volatility_is('escalation', 'histogram_find', ARRAY['bigint[]', 'integer[]', 'bigint']::name[], 'immutable');
SELECT has_function('escalation', 'refresh_escalated', ARRAY['integer[]', 'text[]']::name[]);
SELECT has_function('escalation', 'apply_fact_deltas', ARRAY[]::name[]);
SELECT has_function('escalation', 'rebuild_resolution_rollups', ARRAY[]::name[]);
SELECT has_function('escalation', 'fact_resolution', ARRAY['escalation.ticket_facts', 'integer']::name[]);
SELECT function_privs_are('escalation', 'refresh_escalated', ARRAY['integer[]', 'text[]'], 'escalation_analyst', ARRAY[]::text[]);
SELECT function_privs_are('escalation', 'apply_fact_deltas', ARRAY[]::name[], 'escalation_admin', ARRAY[]::text[]);
SELECT function_privs_are('escalation', 'histogram_find', ARRAY['bigint[]', 'integer[]', 'bigint'], 'escalation_analyst', ARRAY['EXECUTE']);
SELECT table_privs_are('escalation', 'metric_resolution', 'escalation_analyst', ARRAY['SELECT']);
SELECT table_privs_are('escalation', 'metric_resolution_fine', 'escalation_analyst', ARRAY['SELECT']);
SELECT table_privs_are('escalation', 'metric_tte_reasons', 'escalation_analyst', ARRAY['SELECT']);
SELECT table_privs_are('escalation', 'fact_deltas', 'escalation_analyst', ARRAY[]::text[]);
SELECT table_privs_are('escalation', 'fact_deltas', 'public', ARRAY[]::text[]);
SELECT is((SELECT reloptions FROM pg_class WHERE oid = 'escalation.resolution_percentiles'::regclass),
          ARRAY['security_invoker=true'], 'resolution_percentiles is security_invoker');
SELECT is((SELECT reloptions FROM pg_class WHERE oid = 'escalation.time_to_escalation_by_reason'::regclass),
          ARRAY['security_invoker=true'], 'time_to_escalation_by_reason is security_invoker');
SELECT is((SELECT reloptions FROM pg_class WHERE oid = 'escalation.escalations'::regclass),
          ARRAY['toast_tuple_target=8160'],
          'escalations keeps its context snapshots inline (toast_tuple_target): a toasted one costs the helpdesk''s insert a compression attempt and a TOAST write');
SELECT is((SELECT count(*)::int FROM pg_description d JOIN pg_class c ON c.oid = d.objoid AND d.classoid = 'pg_class'::regclass AND d.objsubid = 0
            WHERE c.oid IN ('escalation.metric_resolution'::regclass, 'escalation.metric_resolution_fine'::regclass,
                            'escalation.metric_tte_reasons'::regclass, 'escalation.fact_deltas'::regclass)), 4,
          'the new tables have comments');

SELECT * FROM finish();
ROLLBACK;
