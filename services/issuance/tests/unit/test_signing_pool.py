"""The signing pool: batches checked and signed on worker processes, keys decrypted there only."""

from __future__ import annotations

import json

from issuance_fakes import FakeStore, FakeUnitOfWork
from issuance_helpers import JCS, spec, verify_from_store
from ler_crypto.kms import KeyEncryptionKey
from ler_issuance.adapters.keystore import EnvelopeKeyStore
from ler_issuance.adapters.signing_pool import SigningPool
from ler_issuance.service_layer.context import Context, PublicUrls, Rejected, SignJob
from ler_issuance.service_layer.issuers import NewIssuer, register_issuer
from ler_issuance.service_layer.issuing import Outcome, issue_batch
from ler_platform.kek import new_kek_value, parse_kek


async def test_pool_signs_batches_that_verify_and_refuses_what_ob3_rejects() -> None:
    kek_value = new_kek_value("pool-kek")
    store = FakeStore()
    pool = SigningPool(kek_value, workers=2)
    ctx = Context(
        uow=lambda: FakeUnitOfWork(store),
        keys=EnvelopeKeyStore.from_kek(parse_kek(kek_value)),
        urls=PublicUrls("http://127.0.0.1:8081"),
        batch_signer=pool,
    )
    assert "pool-kek" not in repr(pool) and kek_value not in repr(pool)
    await pool.start()
    try:
        issuer, _ = await register_issuer(ctx, NewIssuer(name="Pool U", url="https://pool.example"))
        specs = [spec(f"R-{i}", cryptosuite=JCS if i % 2 else None) for i in range(7)]
        specs.append(spec("R-1", cryptosuite=JCS))  # a repeat in the same batch: replayed
        results = await issue_batch(ctx, issuer.issuer_id, specs)
        assert [r.outcome for r in results] == [Outcome.ISSUED] * 7 + [Outcome.REPLAYED]
        suites = set()
        for result in results[:7]:
            assert result.credential is not None
            signed = result.credential.signed_credential
            suites.add(json.loads(signed)["proof"]["cryptosuite"])
            report = await verify_from_store(store, signed)
            assert report.verified, report.to_dict()
        assert suites == {"eddsa-rdfc-2022", "eddsa-jcs-2022"}
        assert results[7].credential == results[1].credential
        assert len(store.credentials) == 7

        # the workers run the OB 3.0 check before signing: an invalid document is refused
        # with the data-model issues, in its place in the batch, and nothing is signed for it
        key = store.issuers[issuer.issuer_id].active_key
        good = json.loads(results[0].credential.signed_credential)  # type: ignore[union-attr]
        del good["proof"]
        bad = {k: v for k, v in good.items() if k != "credentialSubject"}
        out = await pool.sign(
            key.encrypted_private_key,
            key.verification_method,
            [SignJob(good, "eddsa-jcs-2022"), SignJob(bad, "eddsa-jcs-2022")],
        )
        assert isinstance(out[0], bytes) and json.loads(out[0])["proof"]["type"]
        assert isinstance(out[1], Rejected) and "credentialSubject" in out[1].message

        # a key encrypted under another KEK cannot be opened by the workers
        other = EnvelopeKeyStore.from_kek(KeyEncryptionKey.generate("other"))
        _, foreign_blob = other.generate()
        try:
            await pool.sign(
                foreign_blob, key.verification_method, [SignJob(good, "eddsa-jcs-2022")]
            )
        except Exception as err:
            assert kek_value.split(":")[-1] not in str(err)
        else:
            raise AssertionError("a key under a foreign KEK was used")
    finally:
        await pool.stop()
