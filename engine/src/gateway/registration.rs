//! Registrations: the gateway's own accounts (`sip::register`, F-6.3.2) and the
//! built-in registrar for softphones (`sip::registrar`, F-6.4.6).

use std::net::SocketAddr;
use std::time::Instant;

use ezk_sip_types::Name;

use super::headers::ALLOW;
use super::{Gateway, Output};
use crate::sip::message::{CoreHeaders, Request, Response};
use crate::sip::register::RegistrationStatus;
use crate::sip::registrar::Binding;

impl Gateway {
    /// Status of every registration, in configuration order (F-5.2.2.16: registered or
    /// not, and why).
    pub fn registration_status(&self) -> Vec<(String, RegistrationStatus)> {
        self.registrations
            .iter()
            .map(|r| (r.config().label.clone(), r.status().clone()))
            .collect()
    }

    /// Clients registered with the built-in registrar (F-6.4.6), for status reporting.
    pub fn registered_clients(&self, now: Instant) -> Vec<Binding> {
        self.registrar
            .as_ref()
            .map(|r| r.bindings(now).cloned().collect())
            .unwrap_or_default()
    }

    /// Sends the first REGISTER of every account (with [`Self::flush_registrations`]).
    pub(super) fn start_registrations(&mut self, now: Instant) {
        for reg in &mut self.registrations {
            reg.start(now, &mut self.ids);
        }
    }

    /// Moves what the accounts want to send to the output queue.
    pub(super) fn flush_registrations(&mut self) {
        for reg in &mut self.registrations {
            while let Some((to, payload)) = reg.poll_transmit() {
                self.output.push_back(Output::Transmit { to, payload });
            }
        }
    }

    /// A response on `branch`; `false` when no account sent the request.
    pub(super) fn registration_response(
        &mut self,
        now: Instant,
        branch: &str,
        response: &Response,
    ) -> bool {
        let Some(reg) = self.registrations.iter_mut().find(|r| r.owns(branch)) else {
            return false;
        };
        reg.handle_response(now, &mut self.ids, branch, response);
        self.flush_registrations();
        true
    }

    /// Expiry of registrar bindings; refreshes, retries and fail-over of accounts.
    pub(super) fn registration_timeouts(&mut self, now: Instant) {
        if let Some(registrar) = self.registrar.as_mut() {
            registrar.handle_timeout(now);
        }
        for reg in &mut self.registrations {
            reg.handle_timeout(now, &mut self.ids);
        }
        self.flush_registrations();
    }

    /// REGISTER to the built-in registrar.
    pub(super) fn handle_register(
        &mut self,
        now: Instant,
        source: SocketAddr,
        request: &Request,
        core: &CoreHeaders,
    ) {
        let Some(registrar) = self.registrar.as_mut() else {
            return;
        };
        let mut resp = registrar.handle_register(now, source, request, &mut self.ids);
        resp.headers.insert(Name::ALLOW, ALLOW);
        self.reply_non_invite(now, source, request, core, resp);
    }
}
