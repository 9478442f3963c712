"""The vault works in an agent session, so the caller can undo none of what it records.

Before, the vault's functions wrote the audit row and ``last_used_at`` in the
caller's own transaction: ``BEGIN; SELECT * FROM read_key(...); ROLLBACK;``
returned the secret and left no trace, and the caller's transaction
statistics and buffer counts told another user's key from a missing one.

Now each entry point a user may call (``new_pad``, ``add_key``, ``read_key``,
``read_key_by_id``, ``delete_key``, ``delete_key_by_id``) only forwards the
request, with the caller's ``session_user`` and backend pid, over dblink to a
session of ``quantdesk_vault_agent`` (a member of the vault role that only the
server's own OS account may log in as). There the request runs as one
autocommitted statement: the lookup, the decryption, the audit row and
``last_used_at`` commit before the answer reaches the caller's session.
The caller's backend never reads the master key, ciphertext or another
user's row.

Refusals (a missing key, another user's key) are audited at most
:data:`REFUSALS_PER_HOUR` times an hour for each owner and caller; beyond that
the newest refusal row's ``repeated`` counts them, so the trail cannot be
flooded.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import importlib

from alembic import op

from quantdesk.store.definer_pins import set_clauses
from quantdesk.store.roles import (
    AGENT_ROLE,
    DBLINK_SCHEMA,
    OWNER_ROLE,
    SCHEMA,
    VAULT_ROLE,
)
from quantdesk.store.vault import AGENT_CONNINFO_FILE

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

VAULT_SCHEMA = "quantdesk_vault"
CONNECTION = "quantdesk_vault_agent"
REFUSALS_PER_HOUR = 20
PAD_LIMIT = 1024 * 4 + 16384
NAME_LIMIT = 100
KEY_ID_LIMIT = 1024
SECRET_LIMIT = 16384
PINS = set_clauses()

PREREQUISITES = f"""DO $check$
BEGIN
    IF pg_catalog.to_regrole('{AGENT_ROLE}') IS NULL
            OR NOT pg_catalog.pg_has_role('{AGENT_ROLE}', '{VAULT_ROLE}', 'USAGE') THEN
        RAISE EXCEPTION 'the vault agent role {AGENT_ROLE} is missing or not a member of '
            '{VAULT_ROLE}: run ''quantdesk db up'' (embedded), or run the statements of '
            '''quantdesk db bootstrap-script'' as a superuser (external server)';
    END IF;
    IF NOT EXISTS (
        SELECT FROM pg_catalog.pg_proc AS p
        JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace
        WHERE n.nspname = '{DBLINK_SCHEMA}' AND p.proname = 'dblink_connect_u'
            AND pg_catalog.has_function_privilege('{VAULT_ROLE}', p.oid, 'EXECUTE')
    ) THEN
        RAISE EXCEPTION 'the vault needs dblink in schema {DBLINK_SCHEMA} with EXECUTE on '
            'dblink_connect_u for {VAULT_ROLE}: run ''quantdesk db up'' (embedded), or the '
            'statements of ''quantdesk db bootstrap-script'' as a superuser (external server)';
    END IF;
END
$check$"""

AUDIT_TABLE = f"{SCHEMA}.api_key_audit"
AUDIT_CHANGES = [
    f"ALTER TABLE {AUDIT_TABLE} ADD COLUMN repeated integer NOT NULL DEFAULT 0 "
    "CONSTRAINT api_key_audit_repeated_check CHECK (repeated >= 0)",
    f"ALTER TABLE {AUDIT_TABLE} ALTER COLUMN repeated SET STATISTICS 0",
    f"CREATE INDEX api_key_audit_owner_refusals ON {AUDIT_TABLE} (owner, actor, at) "
    "WHERE outcome <> 'ok'",
    f"GRANT UPDATE (repeated) ON {AUDIT_TABLE} TO {VAULT_ROLE}",
    f"CREATE POLICY api_key_audit_vault_repeats ON {AUDIT_TABLE} FOR UPDATE TO {VAULT_ROLE} "
    "USING (outcome <> 'ok') WITH CHECK (outcome <> 'ok')",
]

# Every body names the schema of each table, function and type (search_path is
# pinned empty); operators stay unqualified, found in pg_catalog.
PRIVATE_FUNCTIONS = [
    f"""CREATE FUNCTION {VAULT_SCHEMA}.record_audit(owner pg_catalog.text,
        actor pg_catalog.text, action pg_catalog.text, outcome pg_catalog.text,
        provider pg_catalog.text, label pg_catalog.text, api_key_id pg_catalog.uuid)
    RETURNS void LANGUAGE sql VOLATILE SET search_path = '' AS $function$
        INSERT INTO {AUDIT_TABLE} (owner, actor, action, outcome, provider, label, api_key_id)
        VALUES (owner, actor, action, outcome, provider, label, api_key_id)
    $function$""",
    f"""CREATE OR REPLACE FUNCTION {VAULT_SCHEMA}.audit(owner pg_catalog.text,
        action pg_catalog.text, outcome pg_catalog.text, provider pg_catalog.text,
        label pg_catalog.text, api_key_id pg_catalog.uuid) RETURNS void
    LANGUAGE sql VOLATILE SET search_path = '' AS $function$
        SELECT {VAULT_SCHEMA}.record_audit(owner, SESSION_USER, action, outcome, provider,
            label, api_key_id)
    $function$""",
    f"""CREATE FUNCTION {VAULT_SCHEMA}.record_refusal(owner pg_catalog.text,
        actor pg_catalog.text, action pg_catalog.text, outcome pg_catalog.text,
        provider pg_catalog.text, label pg_catalog.text, api_key_id pg_catalog.uuid)
    RETURNS void LANGUAGE plpgsql VOLATILE SET search_path = '' AS $function$
    DECLARE
        recent pg_catalog.int8;
    BEGIN
        SELECT pg_catalog.count(*) INTO recent FROM {AUDIT_TABLE} AS past
        WHERE past.owner = record_refusal.owner AND past.actor = record_refusal.actor
            AND past.outcome <> 'ok'
            AND past.at > pg_catalog.clock_timestamp() - '1 hour'::pg_catalog.interval;
        IF recent < {REFUSALS_PER_HOUR} THEN
            PERFORM {VAULT_SCHEMA}.record_audit(owner, actor, action, outcome, provider, label,
                api_key_id);
            RETURN;
        END IF;
        UPDATE {AUDIT_TABLE} AS counted SET repeated = counted.repeated + 1
        WHERE counted.owner = record_refusal.owner AND counted.id = (
            SELECT past.id FROM {AUDIT_TABLE} AS past
            WHERE past.owner = record_refusal.owner AND past.actor = record_refusal.actor
                AND past.outcome <> 'ok'
            ORDER BY past.at DESC LIMIT 1);
    END
    $function$""",
    f"""CREATE FUNCTION {VAULT_SCHEMA}.agent_conninfo() RETURNS text
    LANGUAGE plpgsql VOLATILE SET search_path = '' AS $function$
    DECLARE
        configured pg_catalog.text := pg_catalog.pg_read_file('{AGENT_CONNINFO_FILE}', 0, 4096,
            true);
    BEGIN
        IF configured IS NULL OR pg_catalog.btrim(configured, E' \\t\\r\\n') = '' THEN
            RAISE EXCEPTION USING ERRCODE = 'raise_exception', MESSAGE =
                'the vault cannot reach its agent: {AGENT_CONNINFO_FILE} is missing in the '
                'server''s data directory; run ''quantdesk db up'' (embedded) or write a libpq '
                'connection string for {AGENT_ROLE} there (external)';
        END IF;
        RETURN pg_catalog.btrim(configured, E' \\t\\r\\n');
    END
    $function$""",
    # One agent session per request: nothing of it outlives the call, even when
    # the request fails or the caller's statement is cancelled part-way.
    f"""CREATE FUNCTION {VAULT_SCHEMA}.agent_call(request pg_catalog.text)
    RETURNS jsonb LANGUAGE plpgsql VOLATILE SET search_path = '' AS $function$
    DECLARE
        answer pg_catalog.jsonb;
    BEGIN
        IF '{CONNECTION}' = ANY (COALESCE({DBLINK_SCHEMA}.dblink_get_connections(),
                '{{}}'::pg_catalog.text[])) THEN
            PERFORM {DBLINK_SCHEMA}.dblink_disconnect('{CONNECTION}');
        END IF;
        PERFORM {DBLINK_SCHEMA}.dblink_connect_u('{CONNECTION}',
            {VAULT_SCHEMA}.agent_conninfo());
        BEGIN
            SELECT reply.answer INTO answer
            FROM {DBLINK_SCHEMA}.dblink('{CONNECTION}', request) AS reply(answer pg_catalog.jsonb);
        EXCEPTION WHEN OTHERS THEN
            PERFORM {DBLINK_SCHEMA}.dblink_disconnect('{CONNECTION}');
            RAISE;
        END;
        PERFORM {DBLINK_SCHEMA}.dblink_disconnect('{CONNECTION}');
        RETURN answer;
    END
    $function$""",
    # The caller's own key, locked: FOR UPDATE waits for a rotation to commit,
    # then sees the new ciphertext and fingerprint.
    f"""CREATE FUNCTION {VAULT_SCHEMA}.own_key_of(caller pg_catalog.text,
        provider pg_catalog.text, label pg_catalog.text, id pg_catalog.uuid)
    RETURNS {SCHEMA}.api_keys LANGUAGE plpgsql VOLATILE SET search_path = '' AS $function$
    DECLARE
        found_key {SCHEMA}.api_keys;
    BEGIN
        SELECT stored.* INTO found_key FROM {SCHEMA}.api_keys AS stored
        WHERE stored.owner = caller AND CASE WHEN own_key_of.id IS NULL
            THEN stored.provider = own_key_of.provider AND stored.label = own_key_of.label
            ELSE stored.id = own_key_of.id END
        FOR UPDATE;
        RETURN found_key;
    END
    $function$""",
    # A missing key and another user's key give the caller the same answer and
    # the same row; the other user's trail gets a 'denied' row naming the caller.
    f"""CREATE FUNCTION {VAULT_SCHEMA}.record_miss(caller pg_catalog.text,
        action pg_catalog.text, provider pg_catalog.text, label pg_catalog.text,
        id pg_catalog.uuid) RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = '' AS $function$
    DECLARE
        target {SCHEMA}.api_keys;
    BEGIN
        PERFORM {VAULT_SCHEMA}.record_refusal(caller, caller, action, 'not_found', provider,
            label, id);
        IF id IS NULL THEN
            RETURN;
        END IF;
        SELECT stored.* INTO target FROM {SCHEMA}.api_keys AS stored
        WHERE stored.id = record_miss.id AND stored.owner <> caller;
        IF target.id IS NOT NULL THEN
            PERFORM {VAULT_SCHEMA}.record_refusal(target.owner, caller, action, 'denied',
                target.provider, target.label, target.id);
        END IF;
    END
    $function$""",
]

# Run in the agent's session, never in a user's: they trust caller and
# backend, which only the vault's entry points supply.
AGENT_FUNCTIONS = [
    f"""CREATE FUNCTION {VAULT_SCHEMA}.agent_new_pad(caller text, backend integer,
        size integer) RETURNS jsonb LANGUAGE plpgsql VOLATILE {PINS} AS $function$
    DECLARE
        pad pg_catalog.bytea;
    BEGIN
        IF size IS NULL OR size NOT BETWEEN 1 AND {PAD_LIMIT} THEN
            RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
                MESSAGE = 'a pad must be 1 to {PAD_LIMIT} bytes long';
        END IF;
        -- A pid is unique among live backends, so older pads of this pid are stale.
        DELETE FROM {VAULT_SCHEMA}.pads AS stale
        WHERE stale.backend_pid = backend
            OR stale.created_at < pg_catalog.now() - '1 hour'::pg_catalog.interval;
        pad := public.gen_random_bytes(1);
        WHILE pg_catalog.length(pad) < size LOOP
            pad := pad || public.gen_random_bytes(LEAST(1024, size - pg_catalog.length(pad)));
        END LOOP;
        INSERT INTO {VAULT_SCHEMA}.pads (owner, backend_pid, pad) VALUES (caller, backend, pad);
        RETURN pg_catalog.jsonb_build_object('pad', pg_catalog.encode(pad, 'hex'));
    END
    $function$""",
    f"""CREATE FUNCTION {VAULT_SCHEMA}.agent_add(caller text, backend integer, provider text,
        label text, masked_key_id bytea, masked_secret bytea, replace_existing boolean)
    RETURNS jsonb LANGUAGE plpgsql VOLATILE {PINS} AS $function$
    DECLARE
        pad pg_catalog.bytea;
        key_id pg_catalog.text;
        secret pg_catalog.text;
        encryption record;
        stored_id pg_catalog.uuid;
    BEGIN
        PERFORM {VAULT_SCHEMA}.check_name('provider', provider);
        PERFORM {VAULT_SCHEMA}.check_name('label', label);
        IF masked_key_id IS NULL OR masked_secret IS NULL
                OR pg_catalog.length(masked_key_id) NOT BETWEEN 1 AND {KEY_ID_LIMIT * 4}
                OR pg_catalog.length(masked_secret) NOT BETWEEN 1 AND {SECRET_LIMIT} THEN
            RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value', MESSAGE =
                'the key id must have 1 to {KEY_ID_LIMIT * 4} bytes and the secret '
                '1 to {SECRET_LIMIT} bytes';
        END IF;
        DELETE FROM {VAULT_SCHEMA}.pads AS taken
        WHERE taken.backend_pid = backend AND taken.owner = caller
        RETURNING taken.pad INTO pad;
        IF pad IS NULL OR pg_catalog.length(pad)
                <> pg_catalog.length(masked_key_id) + pg_catalog.length(masked_secret) THEN
            RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value', MESSAGE =
                'no matching pad: call quantdesk_vault.new_pad(length of key id + secret) '
                'in the same session first, then mask the key id and secret with it';
        END IF;
        key_id := pg_catalog.convert_from({VAULT_SCHEMA}.unmask(masked_key_id,
            pg_catalog.substring(pad, 1, pg_catalog.length(masked_key_id))), 'UTF8');
        secret := pg_catalog.convert_from({VAULT_SCHEMA}.unmask(masked_secret,
            pg_catalog.substring(pad, pg_catalog.length(masked_key_id) + 1)), 'UTF8');
        SELECT * INTO encryption FROM {VAULT_SCHEMA}.encryption_key();
        INSERT INTO {SCHEMA}.api_keys AS stored (owner, provider, label, key_id_hint,
            key_id_ciphertext, secret_ciphertext, master_key_fingerprint)
        VALUES (caller, provider, label, {VAULT_SCHEMA}.hint(key_id),
            public.pgp_sym_encrypt(key_id, encryption.master, 'cipher-algo=aes256'),
            public.pgp_sym_encrypt(secret, encryption.master, 'cipher-algo=aes256'),
            encryption.fingerprint)
        ON CONFLICT ON CONSTRAINT api_keys_one_per_label DO UPDATE
            SET key_id_hint = excluded.key_id_hint,
                key_id_ciphertext = excluded.key_id_ciphertext,
                secret_ciphertext = excluded.secret_ciphertext,
                master_key_fingerprint = excluded.master_key_fingerprint,
                created_at = pg_catalog.now(),
                last_used_at = NULL
            WHERE replace_existing
        RETURNING stored.id INTO stored_id;
        IF stored_id IS NOT NULL THEN
            PERFORM {VAULT_SCHEMA}.record_audit(caller, caller, 'create', 'ok', provider, label,
                stored_id);
            RETURN pg_catalog.jsonb_build_object('id', stored_id);
        END IF;
        -- Refused (the key exists, replace_existing is false): audited, and no
        -- RAISE, which would roll the audit row back; the caller sees NULL.
        SELECT existing.id INTO stored_id FROM {SCHEMA}.api_keys AS existing
        WHERE existing.owner = caller AND existing.provider = agent_add.provider
            AND existing.label = agent_add.label;
        PERFORM {VAULT_SCHEMA}.record_refusal(caller, caller, 'create', 'denied', provider,
            label, stored_id);
        RETURN pg_catalog.jsonb_build_object('id', NULL);
    END
    $function$""",
    f"""CREATE FUNCTION {VAULT_SCHEMA}.agent_read(caller text, provider text, label text,
        id uuid) RETURNS jsonb LANGUAGE plpgsql VOLATILE {PINS} AS $function$
    DECLARE
        found_key {SCHEMA}.api_keys := {VAULT_SCHEMA}.own_key_of(caller, provider, label, id);
        master pg_catalog.text;
        answer pg_catalog.jsonb;
    BEGIN
        IF found_key.id IS NULL THEN
            PERFORM {VAULT_SCHEMA}.record_miss(caller, 'read', provider, label, id);
            RETURN NULL;
        END IF;
        master := {VAULT_SCHEMA}.key_with_fingerprint(found_key.master_key_fingerprint);
        answer := pg_catalog.jsonb_build_object(
            'provider', found_key.provider,
            'label', found_key.label,
            'key_id', {VAULT_SCHEMA}.decrypt(found_key.key_id_ciphertext, master),
            'secret', {VAULT_SCHEMA}.decrypt(found_key.secret_ciphertext, master));
        UPDATE {SCHEMA}.api_keys AS used SET last_used_at = pg_catalog.now()
        WHERE used.owner = found_key.owner AND used.id = found_key.id;
        PERFORM {VAULT_SCHEMA}.record_audit(caller, caller, 'read', 'ok', found_key.provider,
            found_key.label, found_key.id);
        RETURN answer;
    END
    $function$""",
    f"""CREATE FUNCTION {VAULT_SCHEMA}.agent_delete(caller text, provider text, label text,
        id uuid) RETURNS jsonb LANGUAGE plpgsql VOLATILE {PINS} AS $function$
    DECLARE
        found_key {SCHEMA}.api_keys := {VAULT_SCHEMA}.own_key_of(caller, provider, label, id);
    BEGIN
        IF found_key.id IS NULL THEN
            PERFORM {VAULT_SCHEMA}.record_miss(caller, 'delete', provider, label, id);
            RETURN pg_catalog.jsonb_build_object('deleted', false);
        END IF;
        DELETE FROM {SCHEMA}.api_keys AS gone
        WHERE gone.owner = found_key.owner AND gone.id = found_key.id;
        PERFORM {VAULT_SCHEMA}.record_audit(caller, caller, 'delete', 'ok', found_key.provider,
            found_key.label, found_key.id);
        RETURN pg_catalog.jsonb_build_object('deleted', true);
    END
    $function$""",
]


def _forwarded(agent_function: str, arguments: str) -> str:
    """SQL calling ``agent_function`` in the agent's session with the caller's identity."""
    placeholders = ", ".join(["%L"] * (arguments.count(",") + 1))
    return (
        f"{VAULT_SCHEMA}.agent_call(pg_catalog.format("
        f"'SELECT {VAULT_SCHEMA}.{agent_function}(%L, {placeholders})', "
        f"SESSION_USER, {arguments}))"
    )


# The entry points keep their signatures and grants; each forwards its request.
ENTRY_POINTS = [
    f"""CREATE OR REPLACE FUNCTION {VAULT_SCHEMA}.new_pad(size integer) RETURNS bytea
    LANGUAGE sql VOLATILE SECURITY DEFINER {PINS} AS $function$
        SELECT pg_catalog.decode(
            {_forwarded("agent_new_pad", "pg_catalog.pg_backend_pid(), size")} ->> 'pad', 'hex')
    $function$""",
    f"""CREATE OR REPLACE FUNCTION {VAULT_SCHEMA}.add_key(provider text, label text,
        masked_key_id bytea, masked_secret bytea, replace_existing boolean DEFAULT false)
    RETURNS uuid LANGUAGE sql VOLATILE SECURITY DEFINER {PINS} AS $function$
        SELECT ({
        _forwarded(
            "agent_add",
            "pg_catalog.pg_backend_pid(), provider, label, masked_key_id, masked_secret, "
            "replace_existing",
        )
    } ->> 'id')::pg_catalog.uuid
    $function$""",
    f"""CREATE OR REPLACE FUNCTION {VAULT_SCHEMA}.read_key(provider text, label text)
    RETURNS TABLE (key_id text, secret text)
    LANGUAGE sql VOLATILE SECURITY DEFINER {PINS} AS $function$
        SELECT reply.answer ->> 'key_id', reply.answer ->> 'secret'
        FROM (SELECT {_forwarded("agent_read", "provider, label, NULL")} AS answer) AS reply
        WHERE reply.answer IS NOT NULL
    $function$""",
    f"""CREATE OR REPLACE FUNCTION {VAULT_SCHEMA}.read_key_by_id(id uuid)
    RETURNS TABLE (provider text, label text, key_id text, secret text)
    LANGUAGE sql VOLATILE SECURITY DEFINER {PINS} AS $function$
        SELECT reply.answer ->> 'provider', reply.answer ->> 'label',
            reply.answer ->> 'key_id', reply.answer ->> 'secret'
        FROM (SELECT {_forwarded("agent_read", "NULL, NULL, id")} AS answer) AS reply
        WHERE reply.answer IS NOT NULL
    $function$""",
    f"""CREATE OR REPLACE FUNCTION {VAULT_SCHEMA}.delete_key(provider text, label text)
    RETURNS boolean LANGUAGE sql VOLATILE SECURITY DEFINER {PINS} AS $function$
        SELECT ({_forwarded("agent_delete", "provider, label, NULL")}
            ->> 'deleted')::pg_catalog.bool
    $function$""",
    f"""CREATE OR REPLACE FUNCTION {VAULT_SCHEMA}.delete_key_by_id(id uuid) RETURNS boolean
    LANGUAGE sql VOLATILE SECURITY DEFINER {PINS} AS $function$
        SELECT ({_forwarded("agent_delete", "NULL, NULL, id")}
            ->> 'deleted')::pg_catalog.bool
    $function$""",
]

NEW_SIGNATURES = [
    "record_audit(text, text, text, text, text, text, uuid)",
    "record_refusal(text, text, text, text, text, text, uuid)",
    "agent_conninfo()",
    "agent_call(text)",
    "own_key_of(text, text, text, uuid)",
    "record_miss(text, text, text, text, uuid)",
    "agent_new_pad(text, integer, integer)",
    "agent_add(text, integer, text, text, bytea, bytea, boolean)",
    "agent_read(text, text, text, uuid)",
    "agent_delete(text, text, text, uuid)",
]
RETIRED_SIGNATURES = [
    f"read_found({SCHEMA}.api_keys, text, text, uuid)",
    f"delete_found({SCHEMA}.api_keys, text, text, uuid)",
    f"owned_by_caller({SCHEMA}.api_keys, text, text, text, uuid)",
    "own_key(text, text)",
    "key_by_id(uuid)",
]


def upgrade() -> None:
    """Move the vault's work into the agent's session and rate-limit audited refusals."""
    op.execute(PREREQUISITES)
    for statement in AUDIT_CHANGES:
        op.execute(statement)
    op.execute(f"GRANT CREATE ON SCHEMA {VAULT_SCHEMA} TO {VAULT_ROLE}")
    op.execute(f"SET LOCAL ROLE {VAULT_ROLE}")
    for statement in PRIVATE_FUNCTIONS + AGENT_FUNCTIONS + ENTRY_POINTS:
        op.execute(statement)
    for signature in NEW_SIGNATURES:
        op.execute(f"REVOKE ALL ON FUNCTION {VAULT_SCHEMA}.{signature} FROM PUBLIC")
    for signature in RETIRED_SIGNATURES:
        op.execute(f"DROP FUNCTION {VAULT_SCHEMA}.{signature}")
    op.execute(f"SET LOCAL ROLE {OWNER_ROLE}")
    op.execute(f"REVOKE CREATE ON SCHEMA {VAULT_SCHEMA} FROM {VAULT_ROLE}")


def downgrade() -> None:
    """Back to the vault of 0004: work in the caller's transaction, every refusal audited."""
    vault = importlib.import_module("quantdesk.store.migrations.versions.0002_vault")
    pins = importlib.import_module("quantdesk.store.migrations.versions.0004_definer_pins")
    op.execute(f"GRANT CREATE ON SCHEMA {VAULT_SCHEMA} TO {VAULT_ROLE}")
    op.execute(f"SET LOCAL ROLE {VAULT_ROLE}")
    for signature in vault.USER_SIGNATURES:
        op.execute(f"DROP FUNCTION {VAULT_SCHEMA}.{signature}")
    restored_audit = next(
        statement for statement in vault.PRIVATE_FUNCTIONS if f"{VAULT_SCHEMA}.audit(" in statement
    )
    op.execute(restored_audit.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1))
    for signature in reversed(NEW_SIGNATURES):
        op.execute(f"DROP FUNCTION {VAULT_SCHEMA}.{signature}")
    for statement in vault.ACCESS_FUNCTIONS + vault.USER_FUNCTIONS:
        op.execute(statement)
    for signature in vault.PRIVATE_SIGNATURES[-5:] + vault.USER_SIGNATURES:
        op.execute(f"REVOKE ALL ON FUNCTION {VAULT_SCHEMA}.{signature} FROM PUBLIC")
    for signature in vault.USER_SIGNATURES:
        op.execute(f"GRANT EXECUTE ON FUNCTION {VAULT_SCHEMA}.{signature} TO quantdesk_users")
    op.execute(pins._for_each_definer(set_clauses()))
    op.execute(f"SET LOCAL ROLE {OWNER_ROLE}")
    op.execute(f"REVOKE CREATE ON SCHEMA {VAULT_SCHEMA} FROM {VAULT_ROLE}")
    op.execute(f"DROP POLICY api_key_audit_vault_repeats ON {AUDIT_TABLE}")
    op.execute(f"REVOKE UPDATE (repeated) ON {AUDIT_TABLE} FROM {VAULT_ROLE}")
    op.execute(f"DROP INDEX {SCHEMA}.api_key_audit_owner_refusals")
    op.execute(f"ALTER TABLE {AUDIT_TABLE} DROP COLUMN repeated")
