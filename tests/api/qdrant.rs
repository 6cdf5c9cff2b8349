//! The Qdrant path, against a local server that speaks Qdrant's gRPC API as
//! qdrant-client calls it (the `Points` and `Collections` services generated
//! from Qdrant's own protobuf files, shipped in qdrant-client). It keeps
//! points in memory, evaluates the filters it receives (and refuses any it
//! does not understand), and records every search's filter so the tests can
//! check what went over the wire.

use crate::embeddings::{configure, stand_in};
use crate::helpers::*;
use nuru::config::{Config, ModelBackendKind};
use nuru::retrieval::{Library, NewFile, Visibility, add_document};
use qdrant_client::qdrant::collections_server::{Collections, CollectionsServer};
use qdrant_client::qdrant::points_server::{Points, PointsServer};
use qdrant_client::qdrant::{self as q};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tonic::{Request, Response, Status};

type Payload = HashMap<String, q::Value>;

#[derive(Default)]
pub(crate) struct FakeQdrant {
    collections: Mutex<HashMap<String, u64>>,
    indexed_fields: Mutex<Vec<(String, i32)>>,
    points: Mutex<HashMap<String, (Vec<f32>, Payload)>>,
    pub(crate) searches: Mutex<Vec<q::Filter>>,
}

/// The gRPC services over the shared state (a local type for the traits).
#[derive(Clone)]
pub(crate) struct Service(Arc<FakeQdrant>);

impl std::ops::Deref for Service {
    type Target = FakeQdrant;
    fn deref(&self) -> &FakeQdrant {
        &self.0
    }
}

fn keyword(payload: &Payload, key: &str) -> Option<String> {
    match payload.get(key)?.kind.as_ref()? {
        q::value::Kind::StringValue(s) => Some(s.clone()),
        _ => None,
    }
}

/// Qdrant's semantics for the conditions Nuru sends: every `must` holds;
/// a keyword matches equal, a keywords list matches any.
fn holds(filter: &q::Filter, payload: &Payload) -> Result<bool, Status> {
    if !filter.should.is_empty() || !filter.must_not.is_empty() || filter.min_should.is_some() {
        return Err(Status::invalid_argument("the stand-in evaluates `must` filters only"));
    }
    for c in &filter.must {
        let Some(q::condition::ConditionOneOf::Field(field)) = &c.condition_one_of else {
            return Err(Status::invalid_argument("field conditions only"));
        };
        let value = keyword(payload, &field.key);
        let Some(q::r#match::MatchValue::Keyword(_) | q::r#match::MatchValue::Keywords(_)) =
            field.r#match.as_ref().and_then(|m| m.match_value.as_ref())
        else {
            return Err(Status::invalid_argument("keyword matches only"));
        };
        let ok = match field.r#match.as_ref().and_then(|m| m.match_value.as_ref()) {
            Some(q::r#match::MatchValue::Keyword(k)) => value.as_deref() == Some(k.as_str()),
            Some(q::r#match::MatchValue::Keywords(list)) => value.is_some_and(|v| list.strings.contains(&v)),
            _ => false,
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

#[allow(deprecated)] // older clients send `data`, newer ones the `Dense` variant
fn dense(v: &q::Vectors) -> Option<Vec<f32>> {
    match v.vectors_options.as_ref()? {
        q::vectors::VectorsOptions::Vector(vector) => {
            if !vector.data.is_empty() {
                return Some(vector.data.clone());
            }
            match vector.vector.as_ref()? {
                q::vector::Vector::Dense(d) => Some(d.data.clone()),
                _ => None,
            }
        }
        _ => None,
    }
}

fn id(p: &q::PointId) -> String {
    match &p.point_id_options {
        Some(q::point_id::PointIdOptions::Uuid(u)) => u.clone(),
        Some(q::point_id::PointIdOptions::Num(n)) => n.to_string(),
        None => String::new(),
    }
}

fn done() -> Response<q::PointsOperationResponse> {
    Response::new(q::PointsOperationResponse {
        result: Some(q::UpdateResult { operation_id: Some(1), status: q::UpdateStatus::Completed as i32 }),
        time: 0.0,
        usage: None,
    })
}

/// Methods Nuru never calls answer UNIMPLEMENTED. Written out in the shape
/// `#[async_trait]` gives trait methods (the attribute does not reach
/// methods a macro writes).
macro_rules! not_used {
    ($($name:ident: $req:ty => $resp:ty;)*) => {
        $(fn $name<'life0, 'async_trait>(
            &'life0 self,
            _: Request<$req>,
        ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Response<$resp>, Status>> + Send + 'async_trait>>
        where
            'life0: 'async_trait,
            Self: 'async_trait,
        {
            Box::pin(async { Err(Status::unimplemented(stringify!($name))) })
        })*
    };
}

#[tonic::async_trait]
impl Points for Service {
    async fn upsert(&self, r: Request<q::UpsertPoints>) -> Result<Response<q::PointsOperationResponse>, Status> {
        let r = r.into_inner();
        let dims =
            *self.collections.lock().unwrap().get(&r.collection_name).ok_or_else(|| Status::not_found("Collection doesn't exist"))?;
        let mut points = self.points.lock().unwrap();
        for p in r.points {
            let v = p.vectors.as_ref().and_then(dense).ok_or_else(|| Status::invalid_argument("a dense vector"))?;
            if v.len() as u64 != dims {
                return Err(Status::invalid_argument(format!("vector of {} for a collection of {dims}", v.len())));
            }
            points.insert(id(p.id.as_ref().ok_or_else(|| Status::invalid_argument("an id"))?), (v, p.payload));
        }
        Ok(done())
    }

    async fn delete(&self, r: Request<q::DeletePoints>) -> Result<Response<q::PointsOperationResponse>, Status> {
        let r = r.into_inner();
        if !self.collections.lock().unwrap().contains_key(&r.collection_name) {
            return Err(Status::not_found("Collection doesn't exist"));
        }
        let Some(q::points_selector::PointsSelectorOneOf::Filter(filter)) = r.points.and_then(|s| s.points_selector_one_of) else {
            return Err(Status::invalid_argument("deletes by filter only"));
        };
        let mut points = self.points.lock().unwrap();
        let mut keep = HashMap::new();
        for (k, (v, payload)) in points.drain() {
            if !holds(&filter, &payload)? {
                keep.insert(k, (v, payload));
            }
        }
        *points = keep;
        Ok(done())
    }

    async fn create_field_index(&self, r: Request<q::CreateFieldIndexCollection>) -> Result<Response<q::PointsOperationResponse>, Status> {
        let r = r.into_inner();
        self.indexed_fields.lock().unwrap().push((r.field_name, r.field_type.unwrap_or_default()));
        Ok(done())
    }

    async fn search(&self, r: Request<q::SearchPoints>) -> Result<Response<q::SearchResponse>, Status> {
        let r = r.into_inner();
        if !self.collections.lock().unwrap().contains_key(&r.collection_name) {
            return Err(Status::not_found("Collection doesn't exist"));
        }
        let filter = r.filter.clone().ok_or_else(|| Status::invalid_argument("Nuru always filters"))?;
        self.searches.lock().unwrap().push(filter.clone());
        let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
        let mut scored = Vec::new();
        for (k, (v, payload)) in self.points.lock().unwrap().iter() {
            if holds(&filter, payload)? {
                let cos = v.iter().zip(&r.vector).map(|(a, b)| a * b).sum::<f32>() / (norm(v) * norm(&r.vector));
                scored.push((k.clone(), cos, payload.clone()));
            }
        }
        scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        scored.truncate(r.limit as usize);
        let result = scored
            .into_iter()
            .map(|(k, score, payload)| q::ScoredPoint {
                id: Some(q::PointId { point_id_options: Some(q::point_id::PointIdOptions::Uuid(k)) }),
                payload,
                score,
                ..Default::default()
            })
            .collect();
        Ok(Response::new(q::SearchResponse { result, time: 0.0, usage: None }))
    }

    not_used! {
        get: q::GetPoints => q::GetResponse;
        update_vectors: q::UpdatePointVectors => q::PointsOperationResponse;
        delete_vectors: q::DeletePointVectors => q::PointsOperationResponse;
        set_payload: q::SetPayloadPoints => q::PointsOperationResponse;
        overwrite_payload: q::SetPayloadPoints => q::PointsOperationResponse;
        delete_payload: q::DeletePayloadPoints => q::PointsOperationResponse;
        clear_payload: q::ClearPayloadPoints => q::PointsOperationResponse;
        delete_field_index: q::DeleteFieldIndexCollection => q::PointsOperationResponse;
        create_vector_name: q::CreateVectorNameRequest => q::PointsOperationResponse;
        delete_vector_name: q::DeleteVectorNameRequest => q::PointsOperationResponse;
        search_batch: q::SearchBatchPoints => q::SearchBatchResponse;
        search_groups: q::SearchPointGroups => q::SearchGroupsResponse;
        scroll: q::ScrollPoints => q::ScrollResponse;
        recommend: q::RecommendPoints => q::RecommendResponse;
        recommend_batch: q::RecommendBatchPoints => q::RecommendBatchResponse;
        recommend_groups: q::RecommendPointGroups => q::RecommendGroupsResponse;
        discover: q::DiscoverPoints => q::DiscoverResponse;
        discover_batch: q::DiscoverBatchPoints => q::DiscoverBatchResponse;
        count: q::CountPoints => q::CountResponse;
        update_batch: q::UpdateBatchPoints => q::UpdateBatchResponse;
        query: q::QueryPoints => q::QueryResponse;
        query_batch: q::QueryBatchPoints => q::QueryBatchResponse;
        query_groups: q::QueryPointGroups => q::QueryGroupsResponse;
        facet: q::FacetCounts => q::FacetResponse;
        search_matrix_pairs: q::SearchMatrixPoints => q::SearchMatrixPairsResponse;
        search_matrix_offsets: q::SearchMatrixPoints => q::SearchMatrixOffsetsResponse;
    }
}

#[tonic::async_trait]
impl Collections for Service {
    async fn collection_exists(&self, r: Request<q::CollectionExistsRequest>) -> Result<Response<q::CollectionExistsResponse>, Status> {
        let exists = self.collections.lock().unwrap().contains_key(&r.into_inner().collection_name);
        Ok(Response::new(q::CollectionExistsResponse { result: Some(q::CollectionExists { exists }), time: 0.0 }))
    }

    async fn create(&self, r: Request<q::CreateCollection>) -> Result<Response<q::CollectionOperationResponse>, Status> {
        let r = r.into_inner();
        let Some(q::vectors_config::Config::Params(params)) = r.vectors_config.and_then(|c| c.config) else {
            return Err(Status::invalid_argument("one unnamed vector per point"));
        };
        if params.distance != q::Distance::Cosine as i32 {
            return Err(Status::invalid_argument("the stand-in scores cosine only"));
        }
        self.collections.lock().unwrap().insert(r.collection_name, params.size);
        Ok(Response::new(q::CollectionOperationResponse { result: true, time: 0.0 }))
    }

    not_used! {
        get: q::GetCollectionInfoRequest => q::GetCollectionInfoResponse;
        list: q::ListCollectionsRequest => q::ListCollectionsResponse;
        update: q::UpdateCollection => q::CollectionOperationResponse;
        delete: q::DeleteCollection => q::CollectionOperationResponse;
        update_aliases: q::ChangeAliases => q::CollectionOperationResponse;
        list_collection_aliases: q::ListCollectionAliasesRequest => q::ListAliasesResponse;
        list_aliases: q::ListAliasesRequest => q::ListAliasesResponse;
        collection_cluster_info: q::CollectionClusterInfoRequest => q::CollectionClusterInfoResponse;
        update_collection_cluster_setup: q::UpdateCollectionClusterSetupRequest => q::UpdateCollectionClusterSetupResponse;
        create_shard_key: q::CreateShardKeyRequest => q::CreateShardKeyResponse;
        delete_shard_key: q::DeleteShardKeyRequest => q::DeleteShardKeyResponse;
        list_shard_keys: q::ListShardKeysRequest => q::ListShardKeysResponse;
    }
}

pub(crate) async fn fake_qdrant() -> (Arc<FakeQdrant>, String) {
    let state = Arc::new(FakeQdrant::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let incoming = tonic::transport::server::TcpIncoming::from(listener);
    let (points, collections) = (PointsServer::new(Service(state.clone())), CollectionsServer::new(Service(state.clone())));
    tokio::spawn(async move {
        tonic::transport::Server::builder().add_service(points).add_service(collections).serve_with_incoming(incoming).await.unwrap()
    });
    (state, url)
}

fn library(embedding_base: &str, qdrant: Option<&str>) -> Library {
    let mut config = Config::default();
    configure(&mut config, ModelBackendKind::Openai, embedding_base, false);
    config.qdrant_url = qdrant.map(String::from);
    config.validate().unwrap();
    Library::from_config(&config).unwrap()
}

fn keywords(filter: &q::Filter, key: &str) -> Option<Vec<String>> {
    filter.must.iter().find_map(|c| match &c.condition_one_of {
        Some(q::condition::ConditionOneOf::Field(f)) if f.key == key => match f.r#match.as_ref()?.match_value.as_ref()? {
            q::r#match::MatchValue::Keyword(k) => Some(vec![k.clone()]),
            q::r#match::MatchValue::Keywords(list) => Some(list.strings.clone()),
            _ => None,
        },
        _ => None,
    })
}

async fn patient(app: &TestApp, name: &str) -> nuru::domain::PatientId {
    app.add_patient(name, "Test", None, &[]).await
}

const DOCS: &[(&str, &str)] = &[
    ("acces.txt", "Les véhicules des visiteurs stationnent gratuitement derrière le bâtiment principal."),
    ("prep.txt", "Pour la prise de sang, venez à jeun : ne pas manger depuis 8 heures."),
    ("horaires.txt", "Le laboratoire ouvre à 7 heures du lundi au samedi."),
    ("tarifs.txt", "Échographie pelvienne 35 000 CDF. Radiographie du thorax 25 000 CDF."),
];

/// The same documents and questions give the same ranking whether the
/// vectors are held by the node or by Qdrant; every Qdrant search carries
/// the clinic, the visible patients (and the clinic's own, "") and the model.
#[tokio::test]
async fn qdrant_and_the_embedded_store_rank_alike_and_every_search_is_filtered_on_the_wire() {
    let app = spawn_app().await;
    let clinic = app.clinic.clinic.id;
    let (_model, embed) = stand_in().await;
    let (fake, qdrant_url) = fake_qdrant().await;
    let (embedded, in_qdrant) = (library(&embed, None), library(&embed, Some(&qdrant_url)));
    let awa = patient(&app, "Awa").await;
    let mut files: Vec<(Option<nuru::domain::PatientId>, &str, &str)> = DOCS.iter().map(|(n, t)| (None, *n, *t)).collect();
    files.push((Some(awa), "nfs-awa.txt", "Résultats NFS : hémoglobine 11,2 g/dL ; à jeun pour le prochain contrôle."));
    for (owner, name, text) in files {
        let file =
            NewFile { clinic, patient: owner, file_name: name, content_type: None, bytes: text.as_bytes(), source: "cli", actor: None };
        // Stored once, through the Qdrant library (vectors go to the database and to Qdrant).
        add_document(&app.store, &in_qdrant, &file, None, app.clock.now()).await.unwrap();
    }
    assert_eq!(fake.points.lock().unwrap().len(), 5, "one point per passage");
    let fields: Vec<String> = fake.indexed_fields.lock().unwrap().iter().map(|(f, _)| f.clone()).collect();
    for f in ["clinic_id", "patient_id", "document_id", "model"] {
        assert!(fields.contains(&f.to_string()), "payload index on {f}: {fields:?}");
    }
    for (question, patients) in [
        ("Is there room for my car?", vec![]),
        ("faut-il être à jeun pour la prise de sang", vec![]),
        ("faut-il être à jeun pour la prise de sang", vec![awa]),
        ("breakfast before the blood test?", vec![awa]),
        ("c'est combien l'échographie", vec![]),
    ] {
        let visible = Visibility { patients: patients.clone(), ..Default::default() };
        let a = embedded.search(&app.store, clinic, question, &visible, 5).await.unwrap();
        let b = in_qdrant.search(&app.store, clinic, question, &visible, 5).await.unwrap();
        let docs = |r: &[nuru::documents::Quote]| r.iter().map(|q| q.document.clone()).collect::<Vec<_>>();
        assert_eq!(docs(&a), docs(&b), "{question}: same ranking on both stores");
        assert!(!b.is_empty(), "{question}");
        if patients.is_empty() {
            assert!(b.iter().all(|q| q.patient.is_none()), "{question}: no patient passage without proof");
        }
        let filter = fake.searches.lock().unwrap().last().cloned().expect("Qdrant was searched");
        assert_eq!(keywords(&filter, "clinic_id"), Some(vec![clinic.to_string()]));
        let mut owners = vec![String::new()];
        owners.extend(patients.iter().map(|p| p.to_string()));
        assert_eq!(keywords(&filter, "patient_id"), Some(owners), "{question}: the clinic's and the named patients' only");
        assert_eq!(keywords(&filter, "model"), Some(vec!["stand-in".to_string()]));
    }
}

/// Erasing a patient (admin API) removes their vectors from Qdrant in the
/// same operation; deleting a document removes its own.
#[tokio::test]
async fn erasure_and_deletion_remove_vectors_from_qdrant() {
    let (_model, embed) = stand_in().await;
    let (fake, qdrant_url) = fake_qdrant().await;
    let a = crate::admin::setup_with(|c| {
        configure(c, ModelBackendKind::Openai, &embed, false);
        c.qdrant_url = Some(qdrant_url.clone());
    })
    .await;
    let clinic = a.app.clinic.clinic.id;
    let admin = a.token("admin@demo.org").await;
    let (status, created) = a
        .send(
            "post",
            &admin,
            &format!("/api/clinics/{clinic}/patients"),
            Some(serde_json::json!({"first_name": "Awa", "last_name": "Mendy", "birth_date": "1990-05-15", "phones": ["+243990000081"]})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let awa = created["id"].as_str().unwrap().to_string();
    let upload = |path: String, name: &'static str, text: &'static str| {
        let form = reqwest::multipart::Form::new()
            .part("file", reqwest::multipart::Part::bytes(text.as_bytes().to_vec()).file_name(name).mime_str("text/plain").unwrap());
        a.app.http.post(format!("{}{path}", a.app.base)).bearer_auth(admin.clone()).multipart(form).send()
    };
    let r = upload(format!("/api/clinics/{clinic}/patients/{awa}/documents"), "nfs.txt", "Hémoglobine 11,2 g/dL.").await.unwrap();
    assert_eq!(r.status(), 201);
    let r = upload(format!("/api/clinics/{clinic}/documents"), "acces.txt", DOCS[0].1).await.unwrap();
    assert_eq!(r.status(), 201);
    let clinic_doc: serde_json::Value = r.json().await.unwrap();
    let owners = || fake.points.lock().unwrap().values().map(|(_, p)| keyword(p, "patient_id").unwrap()).collect::<Vec<_>>();
    assert_eq!(owners().iter().filter(|o| **o == awa).count(), 1, "the patient's passage is in Qdrant");

    let (status, erased) = a.send("delete", &admin, &format!("/api/clinics/{clinic}/patients/{awa}"), None).await;
    assert_eq!(status, 200, "{erased}");
    assert!(owners().iter().all(|o| *o != awa), "no vector of the erased patient left in Qdrant");
    assert_eq!(owners().len(), 1, "the clinic's document stays");

    let (status, _) =
        a.send("delete", &admin, &format!("/api/clinics/{clinic}/documents/{}", clinic_doc["id"].as_str().unwrap()), None).await;
    assert_eq!(status, 204);
    assert!(fake.points.lock().unwrap().is_empty(), "the deleted document's vectors left Qdrant");
}

/// Qdrant down: a patient is not erased (the call says so and can be
/// repeated), and questions are still answered by words.
#[tokio::test]
async fn while_qdrant_is_down_nothing_is_half_erased_and_questions_are_answered_by_words() {
    let (_model, embed) = stand_in().await;
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let a = crate::admin::setup_with(|c| {
        configure(c, ModelBackendKind::Openai, &embed, false);
        c.qdrant_url = Some(closed.clone());
    })
    .await;
    let clinic = a.app.clinic.clinic.id;
    let admin = a.token("admin@demo.org").await;
    let (status, created) = a
        .send(
            "post",
            &admin,
            &format!("/api/clinics/{clinic}/patients"),
            Some(serde_json::json!({"first_name": "Awa", "last_name": "Mendy", "phones": ["+243990000082"]})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let awa = created["id"].as_str().unwrap();
    let (status, body) = a.send("delete", &admin, &format!("/api/clinics/{clinic}/patients/{awa}"), None).await;
    assert_eq!(status, 503, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("nothing was erased"), "{body}");
    let (status, still) = a.send("get", &admin, &format!("/api/clinics/{clinic}/patients/{awa}"), None).await;
    assert_eq!((status.as_u16(), still["first_name"].as_str()), (200, Some("Awa")));

    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(b"Le parking est gratuit pour les visiteurs.".to_vec())
            .file_name("parking.txt")
            .mime_str("text/plain")
            .unwrap(),
    );
    let r =
        a.app.http.post(format!("{}/api/clinics/{clinic}/documents", a.app.base)).bearer_auth(&admin).multipart(form).send().await.unwrap();
    assert_eq!(r.status(), 201, "stored without Qdrant");
    let reply = a.app.say("+243990000083", "il y a un parking pour les visiteurs ?").await.join("\n");
    assert!(reply.contains("parking est gratuit"), "{reply}");
}
