#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Prove the running infrastructure works as the services will use it:
# log in as ler over TCP to every database, and round-trip one record through
# Kafka with aiokafka (from the workspace venv).  Run after infra.sh up.
set -euo pipefail

LOG_TAG=smoke
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

case ${1:-} in
  -h | --help | help)
    echo "Usage: deploy/local/smoke.sh   (checks PostgreSQL on \$LER_PG_PORT and Kafka on \$LER_KAFKA_PORT)"
    exit 0
    ;;
esac

PG_PORT=${LER_PG_PORT:-55432}
KAFKA_PORT=${LER_KAFKA_PORT:-59092}
PSQL=$(compgen -G '/usr/lib/postgresql/*/bin/psql' | sort -V | tail -n1) || true
[[ -x $PSQL ]] || die "psql not found under /usr/lib/postgresql/*/bin; run deploy/local/infra.sh up"

for db in ler_issuance ler_wallet ler_verification ler_intake ler_test; do
  got=$(PGPASSWORD=ler PGCONNECT_TIMEOUT=5 "$PSQL" -X -At -h 127.0.0.1 -p "$PG_PORT" -U ler -d "$db" \
    -c 'SELECT current_database()') || die "cannot log in as ler to $db on 127.0.0.1:$PG_PORT"
  [[ $got == "$db" ]] || die "connected to $db but the server reports '$got'"
done
log "PostgreSQL: logged in as ler to all 5 databases on 127.0.0.1:$PG_PORT"

cd "$REPO_ROOT"
UV=$(command -v uv || echo "python3 -m uv")
# shellcheck disable=SC2086  # UV may be "python3 -m uv"
timeout 120 $UV run python - "127.0.0.1:$KAFKA_PORT" <<'EOF'
"""Produce one keyed record with a header and consume it back in a group."""
import asyncio
import sys
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer


async def main(bootstrap: str) -> None:
    topic = f"ler.smoke.{uuid.uuid4().hex[:12]}"
    value = uuid.uuid4().bytes
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=b"smoke", headers=[("ce_id", b"1")])
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"ler-smoke-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        record = await asyncio.wait_for(consumer.getone(), timeout=60)
        await consumer.commit()
    finally:
        await consumer.stop()
    if (record.key, record.value, list(record.headers)) != (b"smoke", value, [("ce_id", b"1")]):
        sys.exit(f"Kafka returned a different record: {record!r}")


asyncio.run(main(sys.argv[1]))
EOF
log "Kafka: produced and consumed one record (key, value, header) on 127.0.0.1:$KAFKA_PORT"
