"""The provider's register of HSM clusters that tenants may tie custom key stores to.

Registering says where a cluster's tokens are (a PKCS#11 module and token labels, one token per
HSM, in failover order) and which trust anchor certificate (the customer's ``customerCA.crt``)
proves a tenant's claim to it. Nothing secret is registered: the crypto user's password is the
tenant's, given with CreateCustomKeyStore.
"""

from __future__ import annotations

from cryptography import x509

from strongroom.kms.domain.clock import Clock
from strongroom.kms.domain.custom_key_stores import CLUSTER_ID_PATTERN, HsmCluster
from strongroom.kms.service.admin_error import AdminError
from strongroom.kms.storage.custom_key_stores import (
    CustomKeyStoreConflict,
    CustomKeyStoreRepository,
    StoreConflict,
)
from strongroom.kms.storage.database import DuplicateRecord
from strongroom.kms.storage.unit_of_work import Transaction


class HsmClusters:
    def __init__(self, repo: CustomKeyStoreRepository, clock: Clock) -> None:
        self._repo = repo
        self._clock = clock

    def register(
        self, cluster_id: str, module_path: str, token_labels: list[str], trust_anchor: str
    ) -> HsmCluster:
        if not CLUSTER_ID_PATTERN.fullmatch(cluster_id):
            raise AdminError(
                f"cluster id {cluster_id!r} must look like cluster-<11 to 16 letters or 2-7>"
            )
        if not token_labels or len(set(token_labels)) != len(token_labels):
            raise AdminError("a cluster needs one or more distinct token labels")
        try:
            x509.load_pem_x509_certificate(trust_anchor.encode())
        except ValueError:
            raise AdminError("the trust anchor is not a PEM X.509 certificate") from None
        cluster = HsmCluster(
            cluster_id=cluster_id,
            module_path=module_path,
            token_labels=tuple(token_labels),
            trust_anchor=trust_anchor,
            created_at=self._clock.now(),
        )
        try:
            self._repo.register_cluster(cluster)
        except DuplicateRecord:
            raise AdminError(f"cluster {cluster_id} is registered already") from None
        return cluster

    def list(self) -> list[HsmCluster]:
        return self._repo.list_clusters()

    def remove_cluster(self, tx: Transaction, cluster_id: str) -> None:
        """Forget a cluster no custom key store uses: a quorum act (governance/actions.py),
        done in the proposal's transaction."""
        try:
            tx.clusters.remove_cluster(cluster_id)
        except CustomKeyStoreConflict as error:
            if error.reason is StoreConflict.NOT_FOUND:
                raise AdminError(f"cluster {cluster_id} is not registered") from None
            raise AdminError(
                f"cluster {cluster_id} is used by a custom key store; delete the store first"
            ) from None
