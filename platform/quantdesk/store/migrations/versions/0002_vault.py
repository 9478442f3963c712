"""The API-key vault: encrypted keys, their audit trail and the functions that guard both.

Users never touch ciphertext or the master key. They may read the metadata
of their own keys (``quantdesk.api_key_listing``) and their own audit rows;
every create, read and delete goes through SECURITY DEFINER functions owned by
``quantdesk_vault``, which identify the caller by ``session_user``, encrypt
with pgcrypto under a master key read from the server's data directory, and
write the audit row in the same transaction.

Secrets never travel as plain statement parameters, which the server would
log with ``log_statement = all``: the client asks for a one-time pad
(``new_pad``), sends the key id and secret XOR-ed with it (``add_key``), and
the function unmasks them and deletes the pad.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

from quantdesk.store.roles import (
    ADMINS_ROLE,
    MANAGER_ROLE,
    OWN_ROWS,
    OWNER_ROLE,
    READ_FILE_FUNCTION,
    SCHEMA,
    USERS_ROLE,
    VAULT_ROLE,
)

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

VAULT_SCHEMA = "quantdesk_vault"
KEY_FILE = "quantdesk_vault.key"
NEXT_KEY_FILE = "quantdesk_vault.key.next"
NAME_LIMIT = 100
KEY_ID_LIMIT = 1024
SECRET_LIMIT = 16384

TABLES = [
    f"""CREATE TABLE {SCHEMA}.api_keys (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        owner text COLLATE "C" NOT NULL DEFAULT current_user,
        provider text NOT NULL CHECK (char_length(provider) BETWEEN 1 AND {NAME_LIMIT}),
        label text NOT NULL DEFAULT 'default'
            CHECK (char_length(label) BETWEEN 1 AND {NAME_LIMIT}),
        key_id_hint text NOT NULL,
        key_id_ciphertext bytea NOT NULL,
        secret_ciphertext bytea NOT NULL,
        master_key_fingerprint text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        last_used_at timestamptz,
        CONSTRAINT api_keys_one_per_label UNIQUE (owner, provider, label)
    )""",
    f"""CREATE TABLE {SCHEMA}.api_key_audit (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        owner text COLLATE "C" NOT NULL DEFAULT current_user,
        actor text NOT NULL,
        action text NOT NULL CHECK (action IN ('create', 'read', 'delete', 'rotate')),
        outcome text NOT NULL CHECK (outcome IN ('ok', 'not_found', 'denied')),
        provider text,
        label text,
        api_key_id uuid,
        at timestamptz NOT NULL DEFAULT clock_timestamp()
    )""",
    f"CREATE INDEX api_key_audit_owner_newest ON {SCHEMA}.api_key_audit (owner, at DESC)",
    # UNLOGGED: a pad never reaches the write-ahead log, backups or replicas.
    f"""CREATE UNLOGGED TABLE {VAULT_SCHEMA}.pads (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        owner text COLLATE "C" NOT NULL DEFAULT current_user,
        backend_pid integer NOT NULL,
        pad bytea NOT NULL,
        created_at timestamptz NOT NULL DEFAULT clock_timestamp()
    )""",
    f"CREATE INDEX pads_backend ON {VAULT_SCHEMA}.pads (backend_pid, owner)",
]

# What api_key_listing (and so list_api_keys) reads; the ciphertexts and the
# master key's fingerprint stay with the vault role.
LISTING_COLUMNS = "id, owner, provider, label, key_id_hint, created_at, last_used_at"


def _rls(table: str) -> list[str]:
    return [
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY",
        f"REVOKE ALL ON {table} FROM PUBLIC",
    ]


def _user_policies(table: str, prefix: str) -> list[str]:
    return [
        f"CREATE POLICY {prefix}_own_rows ON {table} FOR ALL TO {USERS_ROLE} "
        f"USING ({OWN_ROWS}) WITH CHECK ({OWN_ROWS})",
        f"CREATE POLICY {prefix}_admins_read ON {table} FOR SELECT TO {ADMINS_ROLE} USING (true)",
    ]


# Grants do the restricting: users may only SELECT (the listing columns of
# api_keys, their audit rows); every write goes through the vault functions,
# so no change escapes the audit trail.
PROTECTION = [
    *_rls(f"{SCHEMA}.api_keys"),
    *_user_policies(f"{SCHEMA}.api_keys", "api_keys"),
    f"CREATE POLICY api_keys_vault ON {SCHEMA}.api_keys FOR ALL TO {VAULT_ROLE} "
    "USING (true) WITH CHECK (true)",
    f"GRANT SELECT ({LISTING_COLUMNS}) ON {SCHEMA}.api_keys TO {USERS_ROLE}, {ADMINS_ROLE}",
    f"GRANT SELECT, INSERT, UPDATE, DELETE ON {SCHEMA}.api_keys TO {VAULT_ROLE}",
    *_rls(f"{SCHEMA}.api_key_audit"),
    *_user_policies(f"{SCHEMA}.api_key_audit", "api_key_audit"),
    f"CREATE POLICY api_key_audit_vault_insert ON {SCHEMA}.api_key_audit FOR INSERT "
    f"TO {VAULT_ROLE} WITH CHECK (true)",
    f"CREATE POLICY api_key_audit_vault_read ON {SCHEMA}.api_key_audit FOR SELECT "
    f"TO {VAULT_ROLE} USING (true)",
    f"GRANT SELECT ON {SCHEMA}.api_key_audit TO {USERS_ROLE}, {ADMINS_ROLE}",
    f"GRANT SELECT, INSERT ON {SCHEMA}.api_key_audit TO {VAULT_ROLE}",
    *_rls(f"{VAULT_SCHEMA}.pads"),
    f"CREATE POLICY pads_vault_only ON {VAULT_SCHEMA}.pads FOR ALL TO {VAULT_ROLE} "
    "USING (true) WITH CHECK (true)",
    f"GRANT SELECT, INSERT, DELETE ON {VAULT_SCHEMA}.pads TO {VAULT_ROLE}",
    f"""CREATE VIEW {SCHEMA}.api_key_listing WITH (security_invoker = true) AS
        SELECT id, owner, provider, label, key_id_hint AS hint, created_at, last_used_at
        FROM {SCHEMA}.api_keys""",
    f"REVOKE ALL ON {SCHEMA}.api_key_listing FROM PUBLIC",
    f"GRANT SELECT ON {SCHEMA}.api_key_listing TO {USERS_ROLE}, {ADMINS_ROLE}",
]


def sql_literal(value: str) -> str:
    """``value`` as a SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


MISSING_KEY_MESSAGE = sql_literal(
    f"the vault's master key file {KEY_FILE} is missing in the server's data directory; "
    "run 'quantdesk db up' (embedded) or create it (external)"
)

# Every function body names the schema of each table, function and type:
# search_path is pinned empty, and an empty path still looks up tables and
# types in the caller's temporary schema first. Operators stay unqualified:
# they are only ever looked up in pg_catalog under an empty path.
PRIVATE_FUNCTIONS = [
    f"""CREATE FUNCTION {VAULT_SCHEMA}.master_key(next_key boolean) RETURNS text
    LANGUAGE plpgsql VOLATILE SET search_path = '' AS $function$
    DECLARE
        content pg_catalog.text;
    BEGIN
        IF NOT pg_catalog.has_function_privilege('{READ_FILE_FUNCTION}', 'EXECUTE') THEN
            RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
                MESSAGE = 'the vault role may not read its master key file; as a superuser run: '
                    'GRANT EXECUTE ON FUNCTION {READ_FILE_FUNCTION} TO {VAULT_ROLE}';
        END IF;
        content := pg_catalog.pg_read_file(
            CASE WHEN next_key THEN '{NEXT_KEY_FILE}' ELSE '{KEY_FILE}' END, 0, 4096, true);
        IF content IS NULL THEN
            RETURN NULL;
        END IF;
        content := pg_catalog.btrim(content, E' \\t\\r\\n');
        IF content !~ '^[0-9a-f]{{64}}$' THEN
            RAISE EXCEPTION USING ERRCODE = 'data_corrupted',
                MESSAGE = pg_catalog.format(
                    'the vault''s master key file %s does not hold 64 lowercase hex characters; '
                    'restore it from your backup',
                    CASE WHEN next_key THEN '{NEXT_KEY_FILE}' ELSE '{KEY_FILE}' END);
        END IF;
        RETURN content;
    END
    $function$""",
    f"""CREATE FUNCTION {VAULT_SCHEMA}.fingerprint(master pg_catalog.text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT SET search_path = '' AS $function$
        SELECT pg_catalog.encode(public.digest(master, 'sha256'), 'hex')
    $function$""",
    # The key new ciphertext is made with: the next key while a rotation is
    # under way (so nothing is encrypted with a key about to be retired).
    f"""CREATE FUNCTION {VAULT_SCHEMA}.encryption_key(OUT master pg_catalog.text,
        OUT fingerprint pg_catalog.text)
    LANGUAGE plpgsql VOLATILE SET search_path = '' AS $function$
    DECLARE
        current_key pg_catalog.text := {VAULT_SCHEMA}.master_key(false);
    BEGIN
        IF current_key IS NULL THEN
            RAISE EXCEPTION USING ERRCODE = 'raise_exception', MESSAGE = {MISSING_KEY_MESSAGE};
        END IF;
        master := COALESCE({VAULT_SCHEMA}.master_key(true), current_key);
        fingerprint := {VAULT_SCHEMA}.fingerprint(master);
    END
    $function$""",
    f"""CREATE FUNCTION {VAULT_SCHEMA}.key_with_fingerprint(wanted pg_catalog.text)
    RETURNS text LANGUAGE plpgsql VOLATILE SET search_path = '' AS $function$
    DECLARE
        current_key pg_catalog.text := {VAULT_SCHEMA}.master_key(false);
        next_key pg_catalog.text := {VAULT_SCHEMA}.master_key(true);
    BEGIN
        IF current_key IS NULL THEN
            RAISE EXCEPTION USING ERRCODE = 'raise_exception', MESSAGE = {MISSING_KEY_MESSAGE};
        END IF;
        IF {VAULT_SCHEMA}.fingerprint(current_key) = wanted THEN
            RETURN current_key;
        END IF;
        IF next_key IS NOT NULL
                AND {VAULT_SCHEMA}.fingerprint(next_key) = wanted THEN
            RETURN next_key;
        END IF;
        RAISE EXCEPTION USING ERRCODE = 'data_corrupted', MESSAGE = pg_catalog.format(
            'the vault''s master key file {KEY_FILE} is not the key this API key was encrypted '
            'with (fingerprint %s...); restore that key file from your backup',
            pg_catalog.left(wanted, 12));
    END
    $function$""",
    f"""CREATE FUNCTION {VAULT_SCHEMA}.decrypt(ciphertext pg_catalog.bytea,
        master pg_catalog.text) RETURNS text
    LANGUAGE plpgsql VOLATILE SET search_path = '' AS $function$
    BEGIN
        RETURN public.pgp_sym_decrypt(ciphertext, master);
    EXCEPTION WHEN external_routine_invocation_exception THEN
        RAISE EXCEPTION USING ERRCODE = 'data_corrupted', MESSAGE =
            'an API key cannot be decrypted although its master key fingerprint matches: '
            'its ciphertext is damaged; remove the key and add it again';
    END
    $function$""",
    f"""CREATE FUNCTION {VAULT_SCHEMA}.unmask(masked pg_catalog.bytea, pad pg_catalog.bytea)
    RETURNS bytea LANGUAGE sql IMMUTABLE STRICT SET search_path = '' AS $function$
        SELECT pg_catalog.decode(pg_catalog.string_agg(pg_catalog.lpad(pg_catalog.to_hex(
                pg_catalog.get_byte(masked, position)
                # pg_catalog.get_byte(pad, position)), 2, '0'),
                '' ORDER BY position), 'hex')
        FROM pg_catalog.generate_series(0, pg_catalog.length(masked) - 1) AS position
    $function$""",
    # Shows at most a third of the key id: 4 characters at each end of a long
    # id, fewer for a short one, none below 6 characters.
    f"""CREATE FUNCTION {VAULT_SCHEMA}.hint(key_id pg_catalog.text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT SET search_path = '' AS $function$
        SELECT pg_catalog.left(key_id, shown) || '…'
            || pg_catalog.right(key_id, shown)
        FROM (SELECT LEAST(4, pg_catalog.char_length(key_id) / 6) AS shown) AS sizes
    $function$""",
    f"""CREATE FUNCTION {VAULT_SCHEMA}.audit(owner pg_catalog.text, action pg_catalog.text,
        outcome pg_catalog.text, provider pg_catalog.text, label pg_catalog.text,
        api_key_id pg_catalog.uuid) RETURNS void
    LANGUAGE sql VOLATILE SET search_path = '' AS $function$
        INSERT INTO {SCHEMA}.api_key_audit (owner, actor, action, outcome, provider, label,
            api_key_id)
        VALUES (owner, SESSION_USER, action, outcome, provider, label, api_key_id)
    $function$""",
    f"""CREATE FUNCTION {VAULT_SCHEMA}.check_name(kind pg_catalog.text, value pg_catalog.text)
    RETURNS void LANGUAGE plpgsql IMMUTABLE SET search_path = '' AS $function$
    BEGIN
        IF value IS NULL OR pg_catalog.char_length(value) NOT BETWEEN 1 AND {NAME_LIMIT} THEN
            RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value', MESSAGE =
                pg_catalog.format('the %s must have 1 to {NAME_LIMIT} characters', kind);
        END IF;
    END
    $function$""",
]

# Lookups lock only the caller's own row (FOR UPDATE waits for a rotation to
# commit, then sees the new ciphertext and fingerprint); locking another
# user's row would let anyone hold up its owner.
ACCESS_FUNCTIONS = [
    f"""CREATE FUNCTION {VAULT_SCHEMA}.own_key(provider pg_catalog.text, label pg_catalog.text)
    RETURNS {SCHEMA}.api_keys LANGUAGE plpgsql VOLATILE SET search_path = '' AS $function$
    DECLARE
        found_key {SCHEMA}.api_keys;
    BEGIN
        SELECT stored.* INTO found_key FROM {SCHEMA}.api_keys AS stored
        WHERE stored.owner = SESSION_USER
            AND stored.provider = own_key.provider
            AND stored.label = own_key.label
        FOR UPDATE;
        RETURN found_key;
    END
    $function$""",
    f"""CREATE FUNCTION {VAULT_SCHEMA}.key_by_id(id pg_catalog.uuid)
    RETURNS {SCHEMA}.api_keys LANGUAGE plpgsql VOLATILE SET search_path = '' AS $function$
    DECLARE
        found_key {SCHEMA}.api_keys;
    BEGIN
        SELECT stored.* INTO found_key FROM {SCHEMA}.api_keys AS stored
        WHERE stored.id = key_by_id.id;
        IF found_key.owner = SESSION_USER THEN
            SELECT stored.* INTO found_key FROM {SCHEMA}.api_keys AS stored
            WHERE stored.id = key_by_id.id AND stored.owner = SESSION_USER
            FOR UPDATE;
        END IF;
        RETURN found_key;
    END
    $function$""",
    # Someone else's key and a missing key give the caller the same answer and
    # the same audit row; the owner gets a 'denied' row naming the caller.
    f"""CREATE FUNCTION {VAULT_SCHEMA}.owned_by_caller(target {SCHEMA}.api_keys,
        action pg_catalog.text, asked_provider pg_catalog.text, asked_label pg_catalog.text,
        asked_id pg_catalog.uuid) RETURNS boolean
    LANGUAGE plpgsql VOLATILE SET search_path = '' AS $function$
    BEGIN
        IF target.id IS NOT NULL AND target.owner = SESSION_USER THEN
            RETURN true;
        END IF;
        PERFORM {VAULT_SCHEMA}.audit(SESSION_USER, action, 'not_found', asked_provider,
            asked_label, asked_id);
        IF target.id IS NOT NULL THEN
            PERFORM {VAULT_SCHEMA}.audit(target.owner, action, 'denied', target.provider,
                target.label, target.id);
        END IF;
        RETURN false;
    END
    $function$""",
    f"""CREATE FUNCTION {VAULT_SCHEMA}.read_found(target {SCHEMA}.api_keys, asked_provider text,
        asked_label text, asked_id uuid, OUT provider text, OUT label text, OUT key_id text,
        OUT secret text)
    RETURNS SETOF record LANGUAGE plpgsql VOLATILE SET search_path = '' AS $function$
    DECLARE
        master pg_catalog.text;
    BEGIN
        IF NOT {VAULT_SCHEMA}.owned_by_caller(target, 'read', asked_provider, asked_label,
                asked_id) THEN
            RETURN;
        END IF;
        master := {VAULT_SCHEMA}.key_with_fingerprint(target.master_key_fingerprint);
        provider := target.provider;
        label := target.label;
        key_id := {VAULT_SCHEMA}.decrypt(target.key_id_ciphertext, master);
        secret := {VAULT_SCHEMA}.decrypt(target.secret_ciphertext, master);
        UPDATE {SCHEMA}.api_keys AS used SET last_used_at = pg_catalog.now()
        WHERE used.id = target.id;
        PERFORM {VAULT_SCHEMA}.audit(SESSION_USER, 'read', 'ok', target.provider, target.label,
            target.id);
        RETURN NEXT;
    END
    $function$""",
    f"""CREATE FUNCTION {VAULT_SCHEMA}.delete_found(target {SCHEMA}.api_keys,
        asked_provider text, asked_label text, asked_id uuid)
    RETURNS boolean LANGUAGE plpgsql VOLATILE SET search_path = '' AS $function$
    BEGIN
        IF NOT {VAULT_SCHEMA}.owned_by_caller(target, 'delete', asked_provider, asked_label,
                asked_id) THEN
            RETURN false;
        END IF;
        DELETE FROM {SCHEMA}.api_keys AS gone WHERE gone.id = target.id;
        PERFORM {VAULT_SCHEMA}.audit(SESSION_USER, 'delete', 'ok', target.provider,
            target.label, target.id);
        RETURN true;
    END
    $function$""",
]

USER_FUNCTIONS = [
    f"""CREATE FUNCTION {VAULT_SCHEMA}.new_pad(size integer) RETURNS bytea
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $function$
    DECLARE
        pad pg_catalog.bytea;
    BEGIN
        IF size IS NULL OR size NOT BETWEEN 1 AND {KEY_ID_LIMIT * 4 + SECRET_LIMIT} THEN
            RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
                MESSAGE = 'a pad must be 1 to {KEY_ID_LIMIT * 4 + SECRET_LIMIT} bytes long';
        END IF;
        -- A pid is unique among live backends, so older pads of this pid are stale.
        DELETE FROM {VAULT_SCHEMA}.pads AS stale
        WHERE stale.backend_pid = pg_catalog.pg_backend_pid()
            OR stale.created_at <
                pg_catalog.now() - '1 hour'::pg_catalog.interval;
        pad := public.gen_random_bytes(1);
        WHILE pg_catalog.length(pad) < size LOOP
            pad := pad || public.gen_random_bytes(
                LEAST(1024, size - pg_catalog.length(pad)));
        END LOOP;
        INSERT INTO {VAULT_SCHEMA}.pads (owner, backend_pid, pad)
        VALUES (SESSION_USER, pg_catalog.pg_backend_pid(), pad);
        RETURN pad;
    END
    $function$""",
    f"""CREATE FUNCTION {VAULT_SCHEMA}.add_key(provider text, label text,
        masked_key_id bytea, masked_secret bytea, replace_existing boolean DEFAULT false)
    RETURNS uuid LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = ''
    AS $function$
    DECLARE
        caller pg_catalog.text := SESSION_USER;
        pad pg_catalog.bytea;
        key_id pg_catalog.text;
        secret pg_catalog.text;
        encryption record;
        stored_id pg_catalog.uuid;
        masked_length pg_catalog.int4;
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
        WHERE taken.backend_pid = pg_catalog.pg_backend_pid()
            AND taken.owner = caller
        RETURNING taken.pad INTO pad;
        masked_length := pg_catalog.length(masked_key_id)
            + pg_catalog.length(masked_secret);
        IF pad IS NULL OR pg_catalog.length(pad) <> masked_length THEN
            RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value', MESSAGE =
                'no matching pad: call quantdesk_vault.new_pad(length of key id + secret) '
                'in the same session first, then mask the key id and secret with it';
        END IF;
        key_id := pg_catalog.convert_from({VAULT_SCHEMA}.unmask(masked_key_id,
            pg_catalog.substring(pad, 1, pg_catalog.length(masked_key_id))), 'UTF8');
        secret := pg_catalog.convert_from({VAULT_SCHEMA}.unmask(masked_secret,
            pg_catalog.substring(pad, pg_catalog.length(masked_key_id) + 1)),
            'UTF8');
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
            PERFORM {VAULT_SCHEMA}.audit(caller, 'create', 'ok', provider, label, stored_id);
            RETURN stored_id;
        END IF;
        -- Refused (the key exists, replace_existing is false): audited, and no
        -- RAISE, which would roll the audit row back; the caller sees NULL.
        SELECT existing.id INTO stored_id FROM {SCHEMA}.api_keys AS existing
        WHERE existing.owner = caller AND existing.provider = add_key.provider
            AND existing.label = add_key.label;
        PERFORM {VAULT_SCHEMA}.audit(caller, 'create', 'denied', provider, label, stored_id);
        RETURN NULL;
    END
    $function$""",
    f"""CREATE FUNCTION {VAULT_SCHEMA}.read_key(provider text, label text)
    RETURNS TABLE (key_id text, secret text)
    LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = '' AS $function$
        SELECT revealed.key_id, revealed.secret FROM {VAULT_SCHEMA}.read_found(
            {VAULT_SCHEMA}.own_key(provider, label), provider, label, NULL) AS revealed
    $function$""",
    f"""CREATE FUNCTION {VAULT_SCHEMA}.read_key_by_id(id uuid)
    RETURNS TABLE (provider text, label text, key_id text, secret text)
    LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = '' AS $function$
        SELECT revealed.provider, revealed.label, revealed.key_id, revealed.secret
        FROM {VAULT_SCHEMA}.read_found({VAULT_SCHEMA}.key_by_id(id), NULL, NULL, id) AS revealed
    $function$""",
    f"""CREATE FUNCTION {VAULT_SCHEMA}.delete_key(provider text, label text) RETURNS boolean
    LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = '' AS $function$
        SELECT {VAULT_SCHEMA}.delete_found({VAULT_SCHEMA}.own_key(provider, label), provider,
            label, NULL)
    $function$""",
    f"""CREATE FUNCTION {VAULT_SCHEMA}.delete_key_by_id(id uuid) RETURNS boolean
    LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = '' AS $function$
        SELECT {VAULT_SCHEMA}.delete_found({VAULT_SCHEMA}.key_by_id(id), NULL, NULL, id)
    $function$""",
]

MANAGER_FUNCTIONS = [
    f"""CREATE FUNCTION {VAULT_SCHEMA}.rotate_master() RETURNS integer
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = '' AS $function$
    DECLARE
        next_key pg_catalog.text := {VAULT_SCHEMA}.master_key(true);
        next_fingerprint pg_catalog.text;
        stored {SCHEMA}.api_keys;
        old_key pg_catalog.text;
        rotated pg_catalog.int4 := 0;
    BEGIN
        IF {VAULT_SCHEMA}.master_key(false) IS NULL THEN
            RAISE EXCEPTION USING ERRCODE = 'raise_exception', MESSAGE = {MISSING_KEY_MESSAGE};
        END IF;
        IF next_key IS NULL THEN
            RAISE EXCEPTION USING ERRCODE = 'raise_exception', MESSAGE =
                'no {NEXT_KEY_FILE} in the server''s data directory; write the new key '
                '(64 lowercase hex characters, readable only by the server) there first';
        END IF;
        next_fingerprint := {VAULT_SCHEMA}.fingerprint(next_key);
        FOR stored IN SELECT * FROM {SCHEMA}.api_keys ORDER BY id FOR UPDATE LOOP
            old_key := {VAULT_SCHEMA}.key_with_fingerprint(stored.master_key_fingerprint);
            UPDATE {SCHEMA}.api_keys AS rotating SET
                key_id_ciphertext = public.pgp_sym_encrypt(
                    {VAULT_SCHEMA}.decrypt(stored.key_id_ciphertext, old_key),
                    next_key, 'cipher-algo=aes256'),
                secret_ciphertext = public.pgp_sym_encrypt(
                    {VAULT_SCHEMA}.decrypt(stored.secret_ciphertext, old_key),
                    next_key, 'cipher-algo=aes256'),
                master_key_fingerprint = next_fingerprint
            WHERE rotating.id = stored.id;
            PERFORM {VAULT_SCHEMA}.audit(stored.owner, 'rotate', 'ok', stored.provider,
                stored.label, stored.id);
            rotated := rotated + 1;
        END LOOP;
        RETURN rotated;
    END
    $function$""",
]

PRIVATE_SIGNATURES = [
    "master_key(boolean)",
    "fingerprint(text)",
    "encryption_key()",
    "key_with_fingerprint(text)",
    "decrypt(bytea, text)",
    "unmask(bytea, bytea)",
    "hint(text)",
    "audit(text, text, text, text, text, uuid)",
    "check_name(text, text)",
    "own_key(text, text)",
    "key_by_id(uuid)",
    f"owned_by_caller({SCHEMA}.api_keys, text, text, text, uuid)",
    f"read_found({SCHEMA}.api_keys, text, text, uuid)",
    f"delete_found({SCHEMA}.api_keys, text, text, uuid)",
]
USER_SIGNATURES = [
    "new_pad(integer)",
    "add_key(text, text, bytea, bytea, boolean)",
    "read_key(text, text)",
    "read_key_by_id(uuid)",
    "delete_key(text, text)",
    "delete_key_by_id(uuid)",
]
MANAGER_SIGNATURES = ["rotate_master()"]


def _function_grants() -> list[str]:
    statements = [
        f"REVOKE ALL ON FUNCTION {VAULT_SCHEMA}.{signature} FROM PUBLIC"
        for signature in PRIVATE_SIGNATURES + USER_SIGNATURES + MANAGER_SIGNATURES
    ]
    statements.extend(
        f"GRANT EXECUTE ON FUNCTION {VAULT_SCHEMA}.{signature} TO {USERS_ROLE}"
        for signature in USER_SIGNATURES
    )
    statements.extend(
        f"GRANT EXECUTE ON FUNCTION {VAULT_SCHEMA}.{signature} TO {MANAGER_ROLE}"
        for signature in MANAGER_SIGNATURES
    )
    return statements


PGCRYPTO_IN_PUBLIC = """DO $check$
BEGIN
    IF NOT EXISTS (
        SELECT FROM pg_catalog.pg_extension AS extension
        JOIN pg_catalog.pg_namespace AS namespace ON namespace.oid = extension.extnamespace
        WHERE extension.extname = 'pgcrypto' AND namespace.nspname = 'public'
    ) THEN
        RAISE EXCEPTION 'the vault needs pgcrypto in schema public; as a superuser run: '
            'DROP EXTENSION pgcrypto; CREATE EXTENSION pgcrypto WITH SCHEMA public';
    END IF;
END
$check$"""


def upgrade() -> None:
    """Create the vault's tables, view, schema and functions."""
    statements = [
        "CREATE EXTENSION IF NOT EXISTS pgcrypto WITH SCHEMA public",
        PGCRYPTO_IN_PUBLIC,
        f"CREATE SCHEMA {VAULT_SCHEMA}",
        f"REVOKE ALL ON SCHEMA {VAULT_SCHEMA} FROM PUBLIC",
        f"GRANT USAGE ON SCHEMA {VAULT_SCHEMA} TO {USERS_ROLE}, {MANAGER_ROLE}, {VAULT_ROLE}",
        f"GRANT USAGE ON SCHEMA {SCHEMA} TO {VAULT_ROLE}",
        *TABLES,
        *PROTECTION,
        # The vault role owns the functions, so it may create them, and only here.
        f"GRANT CREATE ON SCHEMA {VAULT_SCHEMA} TO {VAULT_ROLE}",
        f"SET LOCAL ROLE {VAULT_ROLE}",
        *PRIVATE_FUNCTIONS,
        *ACCESS_FUNCTIONS,
        *USER_FUNCTIONS,
        *MANAGER_FUNCTIONS,
        *_function_grants(),
        # Back to the owner role the runner set (RESET ROLE would drop to the manager).
        f"SET LOCAL ROLE {OWNER_ROLE}",
        f"REVOKE CREATE ON SCHEMA {VAULT_SCHEMA} FROM {VAULT_ROLE}",
    ]
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    """Drop the vault: every stored key and audit row is lost."""
    op.execute(f"DROP SCHEMA {VAULT_SCHEMA} CASCADE")
    op.execute(f"DROP VIEW {SCHEMA}.api_key_listing")
    op.execute(f"DROP TABLE {SCHEMA}.api_key_audit")
    op.execute(f"DROP TABLE {SCHEMA}.api_keys")
    op.execute(f"REVOKE USAGE ON SCHEMA {SCHEMA} FROM {VAULT_ROLE}")
