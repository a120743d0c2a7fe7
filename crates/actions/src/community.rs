//! Comments and votes on an object.

use crate::parse;
use crate::relationships::take;
use crate::reports::api_error;
use crate::{ActionError, Context, ObjectList, ObjectOutput};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use vt_api::VoteVerdict;

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommentsRequest {
    /// The object: a file hash, URL, domain or IP address.
    pub id: String,
    /// At most this many items (default 20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddCommentRequest {
    /// The object: a file hash, URL, domain or IP address.
    pub id: String,
    /// The comment; words starting with # become tags.
    pub text: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VotesRequest {
    /// The object: a file hash, URL, domain or IP address.
    pub id: String,
    /// At most this many items (default 20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub limit: Option<u32>,
}

/// A verdict on an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Vote {
    Harmless,
    Malicious,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddVoteRequest {
    /// The object: a file hash, URL, domain or IP address.
    pub id: String,
    /// harmless or malicious.
    pub verdict: Vote,
}

pub async fn comments(ctx: &Context, req: CommentsRequest) -> Result<ObjectList, ActionError> {
    let object = parse::indicator("id", &req.id)?;
    let limit = parse::limit("limit", req.limit)?;
    let items = take(
        ctx.client.comments(&object, parse::page_size(limit, None)),
        limit,
    )
    .await
    .map_err(|e| api_error(e, &object))?;
    ObjectList::from_api(&items)
}

pub async fn add_comment(
    ctx: &Context,
    req: AddCommentRequest,
) -> Result<ObjectOutput, ActionError> {
    let object = parse::indicator("id", &req.id)?;
    if req.text.trim().is_empty() {
        return Err(ActionError::invalid("text: the comment is empty"));
    }
    let comment = ctx
        .client
        .add_comment(&object, &req.text)
        .await
        .map_err(|e| api_error(e, &object))?;
    ObjectOutput::from_object(&comment)
}

pub async fn votes(ctx: &Context, req: VotesRequest) -> Result<ObjectList, ActionError> {
    let object = parse::indicator("id", &req.id)?;
    let limit = parse::limit("limit", req.limit)?;
    let items = take(
        ctx.client.votes(&object, parse::page_size(limit, None)),
        limit,
    )
    .await
    .map_err(|e| api_error(e, &object))?;
    ObjectList::from_api(&items)
}

pub async fn add_vote(ctx: &Context, req: AddVoteRequest) -> Result<ObjectOutput, ActionError> {
    let object = parse::indicator("id", &req.id)?;
    let verdict = match req.verdict {
        Vote::Harmless => VoteVerdict::Harmless,
        Vote::Malicious => VoteVerdict::Malicious,
    };
    let vote = ctx.client.add_vote(&object, verdict).await.map_err(|err| {
        if err.status() == Some(409) {
            ActionError::api(err, Some(format!("this key has already voted on {object}")))
        } else {
            api_error(err, &object)
        }
    })?;
    ObjectOutput::from_object(&vote)
}
