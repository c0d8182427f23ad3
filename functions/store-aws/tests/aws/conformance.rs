//! The `Store` conformance suite, unchanged, against `DynamoStore` on moto.

use crate::harness::fresh_store;

hogwarden_store_sqlite::store_conformance_tests!(fresh_store);

mod reviews {
    use super::fresh_store;

    hogwarden_store_sqlite::review_conformance_tests!(fresh_store);
}

mod keys {
    use super::fresh_store;

    hogwarden_store_sqlite::key_conformance_tests!(fresh_store);
}

mod alerts {
    use super::fresh_store;

    hogwarden_store_sqlite::alert_conformance_tests!(fresh_store);
}

mod deliveries {
    use std::sync::Arc;

    use hogwarden_core::webhooks::DeliveryLog;

    async fn fresh_log() -> (Arc<dyn DeliveryLog>, ()) {
        (Arc::new(crate::harness::dynamo_store().await), ())
    }

    hogwarden_store_sqlite::delivery_conformance_tests!(fresh_log);
}
