"""OID4VCI end to end over HTTP: the issuance service runs as its own process; the wallet (on
real PostgreSQL and Kafka) collects its offers with a proof of possession of the holder key."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import grpc
import pytest
from ler.common.v1 import credential_pb2 as cpb
from ler.issuance.v1 import issuance_service_pb2 as ipb
from ler.issuance.v1 import issuance_service_pb2_grpc as ipb_grpc
from ler.issuance.v1 import resources_pb2 as irpb
from ler.wallet.v1 import resources_pb2 as rpb
from ler.wallet.v1 import wallet_service_pb2 as pb
from ler.wallet.v1 import wallet_service_pb2_grpc as pb_grpc
from ler_platform.kek import new_kek_value
from ler_wallet.bootstrap import bootstrap
from wallet_helpers import (
    bearer,
    delete_run_topics,
    drop_schema,
    free_port,
    poll_until,
    real_infra,
    run_names,
    wallet_settings,
)

pytestmark = pytest.mark.real
OPERATOR = "operator-token-for-wallet-tests"


@pytest.fixture
def issuance(tmp_path: Path) -> Iterator[dict[str, str]]:
    """``python -m ler_issuance`` on SQLite with its own ports; stopped with SIGTERM."""
    http_port, grpc_port = free_port(), free_port()
    env = {
        "LER_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'issuance.db'}",
        "LER_GRPC_PORT": str(grpc_port),
        "LER_HTTP_PORT": str(http_port),
        "LER_PUBLIC_URL": f"http://127.0.0.1:{http_port}",
        "LER_OPERATOR_TOKEN": OPERATOR,
        "LER_KEK": new_kek_value(),
        "LER_LOG_LEVEL": "WARNING",
    }
    with open(tmp_path / "issuance.log", "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ler_issuance"],
            env={
                k: v for k, v in {**os.environ, **env}.items() if k != "LER_KAFKA_BOOTSTRAP_SERVERS"
            },
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        yield {**env, "log": str(tmp_path / "issuance.log")}
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


async def _ready(env: dict[str, str]) -> None:
    url = f"http://127.0.0.1:{env['LER_HTTP_PORT']}/readyz"

    async def probe() -> bool:
        try:
            async with aiohttp.ClientSession() as http, http.get(url) as response:
                return response.status == 200
        except aiohttp.ClientError:
            return False

    await poll_until(probe, within=90, every=0.3)


@pytest.fixture
async def wallet() -> AsyncIterator[pb_grpc.WalletServiceStub]:
    pg_url, kafka = real_infra()
    names = run_names()
    app = bootstrap(
        wallet_settings(
            pg_url,
            kafka_bootstrap_servers=kafka,
            kafka_topic_partitions=2,
            offers_allow_private=True,
            **names,
        )
    )
    await app.runtime.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{app.runtime.grpc.port}")
    try:
        yield pb_grpc.WalletServiceStub(channel)
    finally:
        await channel.close()
        await app.runtime.stop()
        await drop_schema(pg_url, names["db_schema"])
        await delete_run_topics(kafka, names)


def _spec(record_id: str, subject: irpb.Subject) -> irpb.CredentialSpec:
    return irpb.CredentialSpec(
        record_id=record_id,
        subject=subject,
        achievement=irpb.Achievement(
            name="Data Analysis",
            description="A course.",
            criteria_narrative="Pass.",
            achievement_type=cpb.ACHIEVEMENT_TYPE_COURSE,
        ),
    )


async def test_offer_collected_end_to_end_over_http(
    issuance: dict[str, str], wallet: pb_grpc.WalletServiceStub
) -> None:
    await _ready(issuance)
    ada = await wallet.CreateAccount(
        pb.CreateAccountRequest(display_name="Ada", email="ada@example.org")
    )
    acc, md = ada.account.account_id, bearer(ada.api_key)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{issuance['LER_GRPC_PORT']}") as channel:
        iss = ipb_grpc.IssuanceServiceStub(channel)
        registered = await iss.RegisterIssuer(
            ipb.RegisterIssuerRequest(
                name="Real University", url="https://real.example", did_method=irpb.DID_METHOD_KEY
            ),
            metadata=bearer(OPERATOR),
        )
        issuer_id, imd = registered.issuer.issuer_id, bearer(registered.api_key)
        by_did = await iss.IssueCredential(
            ipb.IssueCredentialRequest(
                issuer_id=issuer_id, spec=_spec("A1", irpb.Subject(did=ada.account.holder_did))
            ),
            metadata=imd,
        )
        by_email = await iss.IssueCredential(
            ipb.IssueCredentialRequest(
                issuer_id=issuer_id, spec=_spec("A2", irpb.Subject(email="ada@example.org"))
            ),
            metadata=imd,
        )
        offer = await iss.CreateCredentialOffer(
            ipb.CreateCredentialOfferRequest(
                issuer_id=issuer_id,
                credential_id=by_did.credential.credential_id,
                require_tx_code=True,
            ),
            metadata=imd,
        )
        email_offer = await iss.CreateCredentialOffer(
            ipb.CreateCredentialOfferRequest(
                issuer_id=issuer_id, credential_id=by_email.credential.credential_id
            ),
            metadata=imd,
        )
    wrong = "000000" if offer.tx_code != "000000" else "111111"
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await wallet.AcceptCredentialOffer(
            pb.AcceptCredentialOfferRequest(
                account_id=acc, offer_uri=offer.offer_uri, tx_code=wrong
            ),
            metadata=md,
        )
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "transaction code" in (err.value.details() or "")
    got = await wallet.AcceptCredentialOffer(
        pb.AcceptCredentialOfferRequest(
            account_id=acc, offer_uri=offer.offer_uri, tx_code=offer.tx_code
        ),
        metadata=md,
    )
    assert [c.credential_id for c in got.credentials] == [by_did.credential.credential_id]
    stored = got.credentials[0]
    assert stored.source == rpb.CREDENTIAL_SOURCE_OFFER
    assert stored.receipt_report.verdict in (1, 2)
    assert stored.summary.subject_id == ada.account.holder_did
    with pytest.raises(grpc.aio.AioRpcError) as err:  # a pre-authorized code works once
        await wallet.AcceptCredentialOffer(
            pb.AcceptCredentialOfferRequest(
                account_id=acc, offer_uri=offer.offer_uri, tx_code=offer.tx_code
            ),
            metadata=md,
        )
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    # issued to an email only: the issuer binds it to the key that proved possession
    bound = await wallet.AcceptCredentialOffer(
        pb.AcceptCredentialOfferRequest(account_id=acc, offer_uri=email_offer.offer_uri),
        metadata=md,
    )
    assert bound.credentials[0].summary.subject_id == ada.account.holder_did
    listed = await wallet.ListCredentials(pb.ListCredentialsRequest(account_id=acc), metadata=md)
    assert len(listed.credentials) == 2
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await wallet.AcceptCredentialOffer(
            pb.AcceptCredentialOfferRequest(account_id=acc, offer_uri="https://x.example/?a=b"),
            metadata=md,
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
