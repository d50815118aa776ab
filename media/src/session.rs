//! The tokio shell around [`Bridge`]: RTP and RTCP sockets from a port allocator over the
//! configured range (F-6.5.1), the 20 ms playout tick on tokio's clock, the line's
//! [`AudioChannel`], RTCP reports every 5 s, and commands/events for the engine.

use std::collections::HashSet;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use cellgate_hal::{AudioChannel, FRAME_SAMPLES};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{interval, Instant, MissedTickBehavior};

use crate::bridge::{Bridge, BridgeConfig, BridgeEvent, Overlay};
use crate::dtmf::Digit;
use crate::rtcp::{self, ntp_timestamp, SenderInfo};

/// The RTP port range of F-6.5.1.
pub const DEFAULT_PORT_RANGE: RangeInclusive<u16> = 16_384..=32_768;
/// Interval between our RTCP reports.
pub const RTCP_INTERVAL: Duration = Duration::from_secs(5);

/// Hands out even RTP ports (RTCP on the next odd one) from a range, round-robin.
#[derive(Debug)]
pub struct PortAllocator {
    low: u16,
    high: u16,
    state: Mutex<(u16, HashSet<u16>)>,
}

/// Two bound sockets for one call; the port is returned to the allocator on drop.
#[derive(Debug)]
pub struct RtpSockets {
    /// RTP socket (even port).
    pub rtp: UdpSocket,
    /// RTCP socket (port + 1).
    pub rtcp: UdpSocket,
    /// The RTP port, for SDP.
    pub port: u16,
    allocator: Arc<PortAllocator>,
}

impl Drop for RtpSockets {
    fn drop(&mut self) {
        if let Ok(mut s) = self.allocator.state.lock() {
            s.1.remove(&self.port);
        }
    }
}

impl PortAllocator {
    /// An allocator over `range` (its ends are rounded inwards to even/odd).
    pub fn new(range: RangeInclusive<u16>) -> Arc<Self> {
        let low = range.start().saturating_add(1) & !1;
        let high = *range.end();
        Arc::new(PortAllocator {
            low,
            high,
            state: Mutex::new((low, HashSet::new())),
        })
    }

    fn candidates(&self) -> Vec<u16> {
        let Ok(mut s) = self.state.lock() else {
            return Vec::new();
        };
        let count = usize::from(self.high.saturating_sub(self.low) / 2) + 1;
        let mut out = Vec::new();
        let mut p = s.0;
        for _ in 0..count {
            if p < self.low || p.checked_add(1).is_none_or(|q| q > self.high) {
                p = self.low;
            }
            if !s.1.contains(&p) {
                out.push(p);
            }
            p = p.wrapping_add(2);
        }
        s.0 = out.first().map(|f| f.wrapping_add(2)).unwrap_or(self.low);
        out
    }

    /// Binds RTP and RTCP on the next free even/odd pair on `ip`.
    pub async fn bind(self: &Arc<Self>, ip: IpAddr) -> io::Result<RtpSockets> {
        for port in self.candidates() {
            let Ok(rtp) = UdpSocket::bind((ip, port)).await else {
                continue;
            };
            let Ok(rtcp) = UdpSocket::bind((ip, port + 1)).await else {
                continue;
            };
            let claimed = self
                .state
                .lock()
                .map(|mut s| s.1.insert(port))
                .unwrap_or(false);
            if claimed {
                return Ok(RtpSockets {
                    rtp,
                    rtcp,
                    port,
                    allocator: Arc::clone(self),
                });
            }
        }
        Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            "no free RTP port pair in the range",
        ))
    }
}

/// What the engine can ask of a running session.
#[derive(Debug)]
pub enum MediaCommand {
    /// The peer's RTP address changed (re-INVITE).
    SetRemote(SocketAddr),
    /// A digit from a SIP INFO.
    DtmfFromSipInfo(Digit, u32),
    /// A digit reported by the module (`+QTONEDET`).
    DtmfFromModule(Digit, u32),
    /// Whether we send RTP: `false` while the peer holds the call (`sendonly`/`inactive`
    /// from its side). PCM keeps being encoded so timestamps run on and resuming is
    /// seamless; nothing goes out.
    SetSending(bool),
    /// Tone or prompt to the module (`None` stops it).
    OverlayToGsm(Option<Overlay>),
    /// Tone or prompt to the SIP peer (`None` stops it), e.g. local ringback.
    OverlayToSip(Option<Overlay>),
    /// End the session (sends RTCP BYE).
    Stop,
}

/// A running media session: one call's bridge on its own task.
#[derive(Debug)]
pub struct MediaSession {
    /// Commands to the session.
    pub commands: mpsc::Sender<MediaCommand>,
    /// Events from the bridge (DTMF actions for the engine, RTP timeout).
    pub events: mpsc::Receiver<BridgeEvent>,
    /// Our RTP port.
    pub local_port: u16,
    task: JoinHandle<()>,
}

impl MediaSession {
    /// Starts bridging `audio` with RTP to `remote` on `sockets`.
    pub fn start(
        cfg: BridgeConfig,
        sockets: RtpSockets,
        remote: SocketAddr,
        audio: AudioChannel,
        cname: String,
    ) -> MediaSession {
        let (cmd_tx, cmd_rx) = mpsc::channel(32);
        let (ev_tx, ev_rx) = mpsc::channel(64);
        let local_port = sockets.port;
        let task = tokio::spawn(run(cfg, sockets, remote, audio, cname, cmd_rx, ev_tx));
        MediaSession {
            commands: cmd_tx,
            events: ev_rx,
            local_port,
            task,
        }
    }

    /// Stops the session and waits for its task.
    pub async fn stop(self) {
        let _ = self.commands.send(MediaCommand::Stop).await;
        let _ = self.task.await;
    }
}

async fn run(
    cfg: BridgeConfig,
    sockets: RtpSockets,
    mut remote: SocketAddr,
    mut audio: AudioChannel,
    cname: String,
    mut commands: mpsc::Receiver<MediaCommand>,
    events: mpsc::Sender<BridgeEvent>,
) {
    let ssrc = cfg.ssrc;
    let mut bridge = Bridge::new(&cfg, Instant::now().into_std());
    let mut rtcp_remote = SocketAddr::new(remote.ip(), remote.port().wrapping_add(1));
    let mut tick = interval(Duration::from_millis(20));
    tick.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let mut report = interval(RTCP_INTERVAL);
    report.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut buf = vec![0u8; 2_048];
    let mut rtcp_buf = vec![0u8; 1_500];
    let mut frame = [0i16; FRAME_SAMPLES];
    let mut gsm_open = true;
    let mut sending = true;
    loop {
        tokio::select! {
            r = sockets.rtp.recv_from(&mut buf) => {
                if let Ok((n, from)) = r {
                    // Symmetric RTP: latch onto where the peer really sends from.
                    if from.ip() == remote.ip() && from != remote {
                        remote = from;
                    }
                    if bridge.on_rtp(&buf[..n], Instant::now().into_std()).is_err() {
                        tracing::trace!(%from, "dropped a non-RTP datagram");
                    }
                }
            }
            r = sockets.rtcp.recv_from(&mut rtcp_buf) => {
                if let Ok((n, from)) = r {
                    rtcp_remote = from;
                    if let Ok(summary) = rtcp::parse(&rtcp_buf[..n]) {
                        if let Some((_, info)) = summary.sender {
                            bridge.rx.stats_mut().on_sender_report(info.ntp_timestamp, Instant::now().into_std());
                        }
                    }
                }
            }
            f = audio.from_gsm.recv(), if gsm_open => {
                match f {
                    Some(f) => bridge.on_pcm(&f, |p| {
                        if sending {
                            let _ = sockets.rtp.try_send_to(p, remote);
                        }
                    }),
                    None => gsm_open = false,
                }
            }
            _ = tick.tick() => {
                bridge.tick(Instant::now().into_std(), &mut frame);
                // A full channel means the module side is behind: drop, never block.
                let _ = audio.to_gsm.try_send(frame);
            }
            _ = report.tick() => {
                let now = Instant::now().into_std();
                let sent = bridge.tx.send_state();
                let sender = (sent.packets > 0).then(|| SenderInfo {
                    ntp_timestamp: ntp_timestamp(SystemTime::now()),
                    rtp_timestamp: sent.timestamp,
                    packet_count: sent.packets,
                    octet_count: sent.octets,
                });
                let block = bridge.rx.stats_mut().report(now);
                if let Ok(bytes) = rtcp::build_report(ssrc, sender, block.as_ref(), &cname) {
                    let _ = sockets.rtcp.try_send_to(&bytes, rtcp_remote);
                }
            }
            c = commands.recv() => {
                match c {
                    Some(MediaCommand::SetRemote(a)) => {
                        remote = a;
                        rtcp_remote = SocketAddr::new(a.ip(), a.port().wrapping_add(1));
                    }
                    Some(MediaCommand::SetSending(on)) => sending = on,
                    Some(MediaCommand::DtmfFromSipInfo(d, ms)) => bridge.dtmf_from_sip_info(d, ms),
                    Some(MediaCommand::DtmfFromModule(d, ms)) => bridge.dtmf_from_module(d, ms),
                    Some(MediaCommand::OverlayToGsm(o)) => bridge.rx.set_overlay(o),
                    Some(MediaCommand::OverlayToSip(o)) => bridge.tx.set_overlay(o),
                    Some(MediaCommand::Stop) | None => {
                        if let Ok(bye) = rtcp::build_bye(ssrc) {
                            let _ = sockets.rtcp.try_send_to(&bye, rtcp_remote);
                        }
                        break;
                    }
                }
            }
        }
        while let Some(e) = bridge.poll_event() {
            let _ = events.try_send(e);
        }
    }
}
