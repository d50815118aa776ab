//! SIP MESSAGE (Appendix H): in from a trusted source -> `200` and
//! [`Output::Message`] for the SMS layer; out with [`Gateway::send_message`], whose
//! outcome comes back as [`Output::MessageOutcome`].

use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use ezk_sip_types::uri::SipUri;
use ezk_sip_types::{Method, Name, StatusCode};
use tracing::info;

use super::client_transactions::Purpose;
use super::headers::uri_or;
use super::{Gateway, Output};
use crate::sip::message::{CoreHeaders, Request, Response};

impl Gateway {
    /// MESSAGE: answered 200 and handed to the SMS layer as [`Output::Message`]; only
    /// admitted sources may send it (403 otherwise).
    pub(super) fn handle_message(
        &mut self,
        now: Instant,
        source: SocketAddr,
        request: &Request,
        core: &CoreHeaders,
    ) {
        if !self.admits_message(now, source, request) {
            info!(%source, "MESSAGE from untrusted source refused");
            let resp = Response::to_request(request, StatusCode::FORBIDDEN, Some(&self.ids.tag()));
            self.reply_non_invite(now, source, request, core, resp);
            return;
        }
        let resp = Response::to_request(request, StatusCode::OK, Some(&self.ids.tag()));
        self.reply_non_invite(now, source, request, core, resp);
        self.output.push_back(Output::Message {
            source,
            uri_user: request.uri_user().map(str::to_owned),
            to_user: user_of(&core.to.uri.uri),
            from_user: user_of(&core.from.uri.uri),
            call_id: core.call_id.0.to_string(),
            content_type: request
                .headers
                .get_raw(&Name::CONTENT_TYPE)
                .next()
                .map(|v| v.to_string()),
            body: request.body.clone(),
        });
    }

    /// Sends a MESSAGE (SMS to SIP, F-H.4 reports); the outcome comes back as
    /// [`Output::MessageOutcome`] with the returned id.
    pub fn send_message(
        &mut self,
        now: Instant,
        uri: &str,
        next_hop: SocketAddr,
        from_user: &str,
        content_type: &str,
        body: Bytes,
    ) -> u64 {
        let id = self.next_message;
        self.next_message += 1;
        let (mut req, branch) = self.out_of_dialog_request(
            Method::MESSAGE,
            uri_or(uri, next_hop),
            from_user,
            format!("<{uri}>"),
        );
        req.headers
            .insert(Name::CONTENT_TYPE, content_type.to_owned());
        req.body = body;
        self.start_client_transaction(now, &req, branch, next_hop, Purpose::Message(id));
        id
    }
}

/// The user part of a URI, if it has one.
pub(super) fn user_of(uri: &SipUri) -> Option<String> {
    match &uri.user_part {
        ezk_sip_types::uri::SipUriUserPart::User(u) => Some(u.to_string()),
        ezk_sip_types::uri::SipUriUserPart::UserPw(pw) => Some(pw.user.to_string()),
        ezk_sip_types::uri::SipUriUserPart::Empty => None,
    }
}
