//! GET routes for single objects and analyses.

use crate::api_error::{ApiError, BaseUrl};
use crate::gate::Caller;
use crate::objects::Built;
use crate::store::Analysis;
use crate::Emulator;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use vt_model::{DataEnvelope, Votes};

type ApiResult = Result<Json<Value>, ApiError>;

fn data(object: Value) -> Json<Value> {
    Json(json!({ "data": object }))
}

/// `?relationships=a,b` on an object GET.
#[derive(Debug, Default, Deserialize)]
pub struct ObjectQuery {
    relationships: Option<String>,
}

impl Emulator {
    /// The answer for an object GET: community votes counted in, and the
    /// requested relationships embedded.
    fn object_answer(
        &self,
        collection: &str,
        object: Value,
        query: &ObjectQuery,
        base: &BaseUrl,
        caller: &Caller,
    ) -> Json<Value> {
        let mut object = self.with_votes(collection, object);
        if let Some(names) = query.relationships.as_deref() {
            self.embed_relationships(collection, &mut object, names, base, caller);
        }
        data(object)
    }

    /// [`Emulator::object_answer`] for a built object: a world object with
    /// no relationships asked for is serialised straight from its types.
    fn built_answer<A: Serialize>(
        &self,
        collection: &str,
        object: Built<A>,
        query: &ObjectQuery,
        base: &BaseUrl,
        caller: &Caller,
        votes: impl FnOnce(&mut A) -> &mut Option<Votes>,
    ) -> Response {
        match object {
            Built::Typed(mut object) if query.relationships.is_none() => {
                if let (Some((harmless, malicious)), Some(attributes)) = (
                    self.votes_cast(collection, &object.id),
                    object.attributes.as_mut(),
                ) {
                    let total = votes(attributes).get_or_insert_with(Votes::default);
                    total.harmless += harmless as u32;
                    total.malicious += malicious as u32;
                }
                Json(DataEnvelope::new(object)).into_response()
            }
            other => self
                .object_answer(collection, other.into_value(), query, base, caller)
                .into_response(),
        }
    }
}

pub async fn file(
    State(emu): State<Emulator>,
    base: BaseUrl,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Query(query): Query<ObjectQuery>,
) -> Result<Response, ApiError> {
    let (_, _, object) = emu.file_built(&id, &base)?;
    Ok(
        emu.built_answer("files", object, &query, &base, &caller, |a| {
            &mut a.total_votes
        }),
    )
}

pub async fn url(
    State(emu): State<Emulator>,
    base: BaseUrl,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Query(query): Query<ObjectQuery>,
) -> Result<Response, ApiError> {
    let (_, _, object) = emu.url_built(&id, &base)?;
    Ok(
        emu.built_answer("urls", object, &query, &base, &caller, |a| {
            &mut a.total_votes
        }),
    )
}

pub async fn domain(
    State(emu): State<Emulator>,
    base: BaseUrl,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Query(query): Query<ObjectQuery>,
) -> Result<Response, ApiError> {
    let object = emu.domain_built(&id, &base)?;
    Ok(
        emu.built_answer("domains", object, &query, &base, &caller, |a| {
            &mut a.total_votes
        }),
    )
}

pub async fn ip_address(
    State(emu): State<Emulator>,
    base: BaseUrl,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Query(query): Query<ObjectQuery>,
) -> Result<Response, ApiError> {
    let object = emu.ip_built(&id, &base)?;
    Ok(
        emu.built_answer("ip_addresses", object, &query, &base, &caller, |a| {
            &mut a.total_votes
        }),
    )
}

fn analysis_not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("Analysis \"{id}\" not found"))
}

/// An analysis the caller may see: public ones, and its own private ones
/// (vt-py polls private URL analyses on this public path).
fn visible_analysis(emu: &Emulator, id: &str, caller: &Caller) -> Result<Analysis, ApiError> {
    emu.store()
        .analyses
        .get(id)
        .filter(|a| a.private_owner.as_ref().is_none_or(|o| *o == caller.key))
        .cloned()
        .ok_or_else(|| analysis_not_found(id))
}

pub async fn analysis(
    State(emu): State<Emulator>,
    base: BaseUrl,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult {
    let analysis = visible_analysis(&emu, &id, &caller)?;
    Ok(Json(emu.analysis_document(&id, &analysis, &base)))
}

pub async fn analysis_item(
    State(emu): State<Emulator>,
    base: BaseUrl,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult {
    let analysis = visible_analysis(&emu, &id, &caller)?;
    emu.analysis_target_object(&analysis, &base).map(data)
}
