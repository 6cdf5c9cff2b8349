//! Passage vectors in Qdrant (`NURU_QDRANT_URL`), through qdrant-client's
//! gRPC API.
//!
//! One collection per deployment (`qdrant_collection`). Each point is one
//! passage: its vector, and a payload of `clinic_id`, `patient_id` (empty
//! for the clinic's documents), `document_id`, `ordinal` and `model`, with
//! keyword indexes on the fields searches filter by (`clinic_id` marked as
//! the tenant). One collection rather than one per clinic: hundreds of
//! small collections each carry their own segments and write-ahead log,
//! while Qdrant's multitenancy guidance is a payload-partitioned collection
//! with an indexed tenant field; isolation does not rest on the collection
//! anyway but on the filter every search here carries (clinic, visible
//! patients, model), and the caller checks each hit against its own index
//! again.

use crate::domain::{ClinicId, DocumentId, PatientId};
use qdrant_client::Qdrant;
use qdrant_client::qdrant::{
    Condition, CreateCollectionBuilder, CreateFieldIndexCollectionBuilder, DeletePointsBuilder, Distance, FieldType, Filter,
    KeywordIndexParamsBuilder, PointStruct, SearchPointsBuilder, UpsertPointsBuilder, VectorParamsBuilder,
};
use tokio::sync::OnceCell;

#[derive(Debug, thiserror::Error)]
#[error("Qdrant: {0}")]
pub struct QdrantError(String);

impl From<qdrant_client::QdrantError> for QdrantError {
    fn from(e: qdrant_client::QdrantError) -> Self {
        QdrantError(e.to_string())
    }
}

/// A passage found near a question: its document and place in it.
#[derive(Debug, Clone, PartialEq)]
pub struct Near {
    pub document: String,
    pub ordinal: u32,
    pub similarity: f32,
}

pub struct QdrantStore {
    client: Qdrant,
    collection: String,
    /// Created (or found) once per process.
    ready: OnceCell<()>,
}

impl std::fmt::Debug for QdrantStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QdrantStore").field("collection", &self.collection).finish()
    }
}

/// A point's id: the same passage always has the same id (a UUID from the
/// document's id and the passage's ordinal), so a re-index overwrites.
fn point_id(document: &str, ordinal: u32) -> String {
    uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, format!("nuru/{document}/{ordinal}").as_bytes()).to_string()
}

impl QdrantStore {
    pub fn new(url: &str, api_key: Option<&str>, collection: &str, timeout: std::time::Duration) -> Result<QdrantStore, QdrantError> {
        crate::install_crypto_provider();
        let mut config = Qdrant::from_url(url).timeout(timeout).skip_compatibility_check();
        if let Some(key) = api_key {
            config = config.api_key(key.to_string());
        }
        Ok(QdrantStore { client: config.build()?, collection: collection.to_string(), ready: OnceCell::new() })
    }

    pub fn collection(&self) -> &str {
        &self.collection
    }

    /// The collection with cosine vectors of `dims` and the payload indexes,
    /// created when missing.
    async fn ensure(&self, dims: usize) -> Result<(), QdrantError> {
        self.ready
            .get_or_try_init(|| async {
                if !self.client.collection_exists(&self.collection).await? {
                    self.client
                        .create_collection(
                            CreateCollectionBuilder::new(&self.collection)
                                .vectors_config(VectorParamsBuilder::new(dims as u64, Distance::Cosine)),
                        )
                        .await?;
                }
                for field in ["clinic_id", "patient_id", "document_id", "model"] {
                    let mut index = CreateFieldIndexCollectionBuilder::new(&self.collection, field, FieldType::Keyword).wait(true);
                    if field == "clinic_id" {
                        index = index.field_index_params(KeywordIndexParamsBuilder::default().is_tenant(true));
                    }
                    self.client.create_field_index(index).await?;
                }
                Ok::<(), QdrantError>(())
            })
            .await
            .map(|_| ())
    }

    /// Stores a document's passage vectors (one per passage, in order),
    /// replacing whatever the document had.
    pub async fn put(
        &self,
        clinic: ClinicId,
        patient: Option<PatientId>,
        document: DocumentId,
        model: &str,
        vectors: &[Vec<f32>],
    ) -> Result<(), QdrantError> {
        let Some(dims) = vectors.first().map(Vec::len) else { return Ok(()) };
        self.ensure(dims).await?;
        self.delete_document(clinic, document).await?;
        let document = document.to_string();
        let points: Vec<PointStruct> = vectors
            .iter()
            .enumerate()
            .map(|(ordinal, v)| {
                let payload = serde_json::json!({
                    "clinic_id": clinic.to_string(),
                    "patient_id": patient.map(|p| p.to_string()).unwrap_or_default(),
                    "document_id": document,
                    "ordinal": ordinal,
                    "model": model,
                });
                let serde_json::Value::Object(map) = payload else { unreachable!("a JSON object") };
                PointStruct::new(point_id(&document, ordinal as u32), v.clone(), map)
            })
            .collect();
        for batch in points.chunks(256) {
            self.client.upsert_points(UpsertPointsBuilder::new(&self.collection, batch.to_vec()).wait(true)).await?;
        }
        Ok(())
    }

    async fn delete_where(&self, filter: Filter) -> Result<(), QdrantError> {
        match self.client.delete_points(DeletePointsBuilder::new(&self.collection).points(filter).wait(true)).await {
            Ok(_) => Ok(()),
            // Nothing was ever stored: nothing to delete.
            Err(e) if e.to_string().contains("Not found") || e.to_string().contains("doesn't exist") => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn delete_document(&self, clinic: ClinicId, document: DocumentId) -> Result<(), QdrantError> {
        self.delete_where(Filter::must([
            Condition::matches("clinic_id", clinic.to_string()),
            Condition::matches("document_id", document.to_string()),
        ]))
        .await
    }

    /// Erasure: every vector of the patient's documents.
    pub async fn delete_patient(&self, clinic: ClinicId, patient: PatientId) -> Result<(), QdrantError> {
        self.delete_where(Filter::must([
            Condition::matches("clinic_id", clinic.to_string()),
            Condition::matches("patient_id", patient.to_string()),
        ]))
        .await
    }

    /// The `k` passages nearest to `vector` among the clinic's documents and
    /// those of `patients`, made by `model`; the filter travels with the
    /// search, so Qdrant never returns anything else.
    pub async fn nearest(
        &self,
        clinic: ClinicId,
        patients: &[PatientId],
        model: &str,
        vector: &[f32],
        k: usize,
    ) -> Result<Vec<Near>, QdrantError> {
        let mut owners = vec![String::new()];
        owners.extend(patients.iter().map(|p| p.to_string()));
        let filter = Filter::must([
            Condition::matches("clinic_id", clinic.to_string()),
            Condition::matches("patient_id", owners),
            Condition::matches("model", model.to_string()),
        ]);
        let search = SearchPointsBuilder::new(&self.collection, vector.to_vec(), k as u64).filter(filter).with_payload(true);
        let found = match self.client.search_points(search).await {
            Ok(found) => found,
            Err(e) if e.to_string().contains("Not found") || e.to_string().contains("doesn't exist") => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        Ok(found
            .result
            .into_iter()
            .filter_map(|p| {
                let document = p.payload.get("document_id")?.as_str()?.to_string();
                let ordinal = p.payload.get("ordinal")?.as_integer()?;
                Some(Near { document, ordinal: u32::try_from(ordinal).ok()?, similarity: p.score })
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_passage_keeps_its_point_id_and_two_passages_differ() {
        assert_eq!(super::point_id("d", 1), super::point_id("d", 1));
        assert_ne!(super::point_id("d", 1), super::point_id("d", 2));
        assert!(uuid::Uuid::parse_str(&super::point_id("d", 1)).is_ok());
    }
}
