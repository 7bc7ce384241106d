//! The human behind the MCP client, asked through elicitation: host-key decisions and policy
//! confirmations in a form, secrets only through a one-time local page (URL mode; the spec
//! forbids forms for passwords). The model never sees an answer.
//!
//! Two routes, by protocol revision: on 2025-11-25 the server sends `elicitation/create`
//! itself; on 2026-07-28 server-to-client requests are gone, so a question travels to the
//! call's guard ([`crate::mcp::guard`]), which returns it as an `input_required` result and
//! hands the client's answer back when the call is retried.

use std::time::Duration;

use rmcp::model::{
    ElicitRequestParams, ElicitResult, ElicitationAction, ElicitationSchema, EnumSchema,
    ProgressNotificationParam, ProgressToken,
};
use rmcp::{Peer, RoleServer};
use tokio::sync::{mpsc, oneshot};

use crate::mcp::page::OneTimePage;
use crate::secret::Secret;
use crate::ssh::ask::{Asker, Asking, HostKeyDecision, HostKeyQuestion, SecretQuestion};

/// How long the human has to answer a form.
const FORM_TIME: Duration = Duration::from_secs(300);
/// How long a one-time page waits.
const PAGE_TIME: Duration = Duration::from_secs(300);

/// A question for the guard to return as `input_required` (2026-07-28).
pub(crate) struct Asked {
    pub params: ElicitRequestParams,
    pub answer: oneshot::Sender<ElicitResult>,
}

/// How questions reach the client.
#[derive(Clone)]
pub(crate) enum Route {
    /// `elicitation/create` (2025-11-25).
    Request,
    /// `input_required` results of the call (2026-07-28).
    Rounds(mpsc::Sender<Asked>),
}

/// The human, for one tool call.
pub(crate) struct Human {
    pub peer: Peer<RoleServer>,
    pub form: bool,
    pub url: bool,
    pub route: Route,
    pub progress: Option<ProgressToken>,
}

impl Human {
    /// Sends one elicitation and waits for the answer.
    async fn elicit(
        &self,
        params: ElicitRequestParams,
        wait: Duration,
    ) -> Result<ElicitResult, String> {
        match &self.route {
            Route::Request => self
                .peer
                .create_elicitation_with_timeout(params, Some(wait))
                .await
                .map_err(|e| format!("the question could not be asked ({e})")),
            Route::Rounds(tx) => {
                let (answer, rx) = oneshot::channel();
                tx.send(Asked { params, answer })
                    .await
                    .map_err(|_| "the call ended before the question was asked".to_string())?;
                // A client that never retries must not hold the login (and its host) forever.
                match tokio::time::timeout(wait, rx).await {
                    Ok(Ok(answer)) => Ok(answer),
                    _ => Err("the client did not answer the question in time".to_string()),
                }
            }
        }
    }

    /// A form elicitation.
    async fn form(
        &self,
        message: String,
        schema: ElicitationSchema,
    ) -> Result<ElicitResult, String> {
        let params = ElicitRequestParams::FormElicitationParams {
            meta: None,
            message,
            requested_schema: schema,
        };
        self.elicit(params, FORM_TIME).await
    }

    /// Asks the human to approve or deny in a form: true only for an explicit approval.
    pub async fn confirm(&self, message: String) -> Result<bool, String> {
        if !self.form {
            return Err(
                "the MCP client cannot ask the user (it declares no form elicitation)".into(),
            );
        }
        let schema = ElicitationSchema::builder()
            .required_bool("approve")
            .description("Approve or deny")
            .build()
            .map_err(str::to_string)?;
        let r = self.form(message, schema).await?;
        Ok(r.action == ElicitationAction::Accept
            && r.content
                .as_ref()
                .and_then(|c| c.get("approve"))
                .and_then(serde_json::Value::as_bool)
                == Some(true))
    }
}

/// The host-key choices, in the order a dialog shows them.
const DECISIONS: [(&str, &str, HostKeyDecision); 3] = [
    ("refuse", "Refuse the key", HostKeyDecision::Refuse),
    (
        "accept_once",
        "Accept it for this server run",
        HostKeyDecision::AcceptForThisRun,
    ),
    (
        "accept_and_save",
        "Accept it and add it to known_hosts",
        HostKeyDecision::AcceptAndSave,
    ),
];

impl Asker for Human {
    fn host_key<'a>(
        &'a self,
        q: &'a HostKeyQuestion,
    ) -> Asking<'a, Result<HostKeyDecision, String>> {
        Box::pin(async move {
            if !self.form {
                return Err("the MCP client declares no form elicitation".into());
            }
            let values = DECISIONS.iter().map(|d| d.0.to_string()).collect();
            let titles = DECISIONS.iter().map(|d| d.1.to_string()).collect();
            let choice = EnumSchema::builder(values)
                .enum_titles(titles)
                .map_err(|e| e.to_string())?
                .title("Decision")
                .build();
            let schema = ElicitationSchema::builder()
                .required_enum_schema("decision", choice)
                .build()
                .map_err(str::to_string)?;
            let message = format!(
                "{} presents a host key that is not in known_hosts: {} {}. Accept it only if this fingerprint is the server's (ask its administrator).",
                q.dest,
                q.key_type.as_deref().unwrap_or("(unknown type)"),
                q.fingerprint
                    .as_deref()
                    .unwrap_or("(fingerprint not shown)")
            );
            let r = self.form(message, schema).await?;
            if r.action != ElicitationAction::Accept {
                return Ok(HostKeyDecision::Refuse);
            }
            let picked = r
                .content
                .as_ref()
                .and_then(|c| c.get("decision"))
                .and_then(serde_json::Value::as_str);
            Ok(DECISIONS
                .iter()
                .find(|d| Some(d.0) == picked)
                .map(|d| d.2)
                .unwrap_or(HostKeyDecision::Refuse))
        })
    }

    fn secret<'a>(&'a self, q: &'a SecretQuestion) -> Asking<'a, Result<Secret, String>> {
        Box::pin(async move {
            if !self.url {
                return Err("the MCP client declares no URL elicitation".into());
            }
            let title = match &q.hop {
                Some(hop) => format!(
                    "Reaching {} needs {} for {hop}, a hop on the way",
                    q.dest, q.what
                ),
                None => format!("{} asks for {}", q.dest, q.what),
            };
            let page =
                OneTimePage::start(&title, &format!("The prompt: {:?}", q.prompt), PAGE_TIME)
                    .await
                    .map_err(|e| format!("the one-time page could not start: {e}"))?;
            let params = ElicitRequestParams::UrlElicitationParams {
                meta: None,
                message: format!(
                    "{title} (the prompt: {:?}). Open this one-time page on this computer and type it there; it goes straight to the waiting prompt (the assistant never sees it).",
                    q.prompt.trim()
                ),
                url: page.url().to_string(),
                elicitation_id: uuid::Uuid::new_v4().to_string(),
            };
            let r = self.elicit(params, PAGE_TIME).await?;
            match r.action {
                ElicitationAction::Accept => page.answer().await,
                ElicitationAction::Decline => Err("the user declined".into()),
                _ => Err("the user cancelled".into()),
            }
        })
    }

    fn touch(&self, dest: &str, prompt: &str) {
        let Some(token) = self.progress.clone() else {
            tracing::info!(%dest, "waiting for a touch of the security key (no progress token to tell the client)");
            return;
        };
        let peer = self.peer.clone();
        let message = format!("{dest}: touch your security key ({prompt})");
        tokio::spawn(async move {
            let _ = peer
                .notify_progress(ProgressNotificationParam::new(token, 0.5).with_message(message))
                .await;
        });
    }
}
