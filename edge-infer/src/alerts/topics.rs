//! What is published where: the topics under the prefix, their payloads, and Home Assistant's
//! MQTT discovery messages for them.
//!
//! | topic | retained | QoS | payload |
//! |---|---|---|---|
//! | `PREFIX/state` | yes | 1 | `ON` while a cry lasts, else `OFF` |
//! | `PREFIX/reason` | yes | 1 | `{"reason":"hungry","confidence":0.81}` (`null`s before the first cry) |
//! | `PREFIX/event` | no | 1 | `{"event_type":"cry_started"\|"calm","seq":N,"t":S,...}`, in order |
//! | `PREFIX/status` | yes | 1 | `online`; `offline` when stopped, and as the last will |
//! | `PREFIX/health` | yes | 1 | uptime, windows, dropped samples, latency, the event queue |

use serde_json::{Value, json};

use crate::output::json::round;
use crate::stream::decision::Event;

/// Payload of `status` while the monitor runs.
pub const ONLINE: &str = "online";
/// Payload of `status` when it stopped or was lost (the last will).
pub const OFFLINE: &str = "offline";
/// `state` while a cry lasts.
pub const ON: &str = "ON";
/// `state` otherwise.
pub const OFF: &str = "OFF";
/// `event_type` of a cry alert.
pub const CRY_STARTED: &str = "cry_started";
/// `event_type` of the end of one.
pub const CALM: &str = "calm";

/// The topics under one prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topics {
    prefix: String,
}

impl Topics {
    /// The topics under `prefix` (no trailing `/`).
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
        }
    }

    fn topic(&self, leaf: &str) -> String {
        format!("{}/{leaf}", self.prefix)
    }

    /// `PREFIX/state`.
    pub fn state(&self) -> String {
        self.topic("state")
    }

    /// `PREFIX/reason`.
    pub fn reason(&self) -> String {
        self.topic("reason")
    }

    /// `PREFIX/event`.
    pub fn event(&self) -> String {
        self.topic("event")
    }

    /// `PREFIX/status`.
    pub fn status(&self) -> String {
        self.topic("status")
    }

    /// `PREFIX/health`.
    pub fn health(&self) -> String {
        self.topic("health")
    }
}

/// The fields every event payload starts with: `event_type`, `seq`, stream time `t` and
/// `unix_time` (ms resolution).
pub fn event_head(event_type: &str, seq: u64, t: f64, unix_time: f64) -> Value {
    json!({
        "event_type": event_type,
        "seq": seq,
        "t": round(t, 3),
        "unix_time": round(unix_time, 3),
    })
}

/// One alert event as published on `PREFIX/event`.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertEvent {
    /// The detector's number for it ([`Event::Cry`]): it continues across runs when a history
    /// is kept, so a subscriber sees gaps and repeats.
    pub seq: u64,
    /// What happened.
    pub kind: AlertKind,
    /// Stream time (seconds) of the window that decided it.
    pub t: f64,
    /// Wall-clock time it was decided, seconds since the Unix epoch.
    pub unix_time: f64,
}

/// A cry alert or its end.
#[derive(Debug, Clone, PartialEq)]
pub enum AlertKind {
    /// A cry began.
    CryStarted {
        /// Its reason.
        reason: String,
        /// The reason's smoothed probability.
        confidence: f32,
        /// Two-head models: the cry probability of the confirming window.
        cry_prob: Option<f32>,
    },
    /// The cry ended.
    Calm {
        /// The reason of the cry that ended.
        after: String,
        /// When that cry began (stream seconds).
        cry_started: f64,
    },
}

impl AlertEvent {
    /// The alert a detector's `cry` or `calm` event is, decided at `unix_time`, its classes
    /// named by `labels`; `None` for a window.
    pub fn from_event(event: &Event, labels: &[String], unix_time: f64) -> Option<Self> {
        let label = |i: usize| labels.get(i).cloned().unwrap_or_else(|| i.to_string());
        let (seq, t, kind) = match event {
            Event::Window(_) => return None,
            Event::Cry {
                seq,
                t,
                label: reason,
                confidence,
                cry_prob,
            } => (
                *seq,
                *t,
                AlertKind::CryStarted {
                    reason: label(*reason),
                    confidence: *confidence,
                    cry_prob: *cry_prob,
                },
            ),
            Event::Calm {
                seq,
                t,
                after,
                cry_started,
            } => (
                *seq,
                *t,
                AlertKind::Calm {
                    after: label(*after),
                    cry_started: *cry_started,
                },
            ),
        };
        Some(Self {
            seq,
            kind,
            t,
            unix_time,
        })
    }

    /// `cry_started` or `calm`.
    pub fn event_type(&self) -> &'static str {
        match self.kind {
            AlertKind::CryStarted { .. } => CRY_STARTED,
            AlertKind::Calm { .. } => CALM,
        }
    }

    /// The reason of the cry (that started, or that ended).
    pub fn reason(&self) -> &str {
        match &self.kind {
            AlertKind::CryStarted { reason, .. } => reason,
            AlertKind::Calm { after, .. } => after,
        }
    }

    /// The JSON payload (Home Assistant's event entity reads `event_type`).
    pub fn payload(&self) -> String {
        let mut v = event_head(self.event_type(), self.seq, self.t, self.unix_time);
        match &self.kind {
            AlertKind::CryStarted {
                reason,
                confidence,
                cry_prob,
            } => {
                v["reason"] = json!(reason);
                v["confidence"] = json!(round(f64::from(*confidence), 4));
                if let Some(p) = cry_prob {
                    v["cry_prob"] = json!(round(f64::from(*p), 4));
                }
            }
            AlertKind::Calm { after, cry_started } => {
                v["reason"] = json!(after);
                v["cry_started"] = json!(round(*cry_started, 3));
            }
        }
        v.to_string()
    }
}

/// The retained `reason` payload: the last cry's reason and confidence (`null` before one).
pub fn reason_payload(reason: Option<(&str, f32)>) -> String {
    match reason {
        Some((r, c)) => json!({"reason": r, "confidence": round(f64::from(c), 4)}),
        None => json!({"reason": Value::Null, "confidence": Value::Null}),
    }
    .to_string()
}

/// Replaces every character outside `[a-zA-Z0-9_-]` by `_` (Home Assistant's rule for the node
/// and object ids in discovery topics).
pub fn sanitize_id(s: &str) -> String {
    let id: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if id.is_empty() { "_".into() } else { id }
}

/// Home Assistant MQTT discovery for one monitor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovery {
    /// Discovery prefix (Home Assistant's default: `homeassistant`).
    pub prefix: String,
    /// Node id, `[a-zA-Z0-9_-]` only (from [`sanitize_id`]).
    pub node_id: String,
    /// The device's name as Home Assistant shows it.
    pub name: String,
}

/// The entities of a monitor: (component, object id).
const ENTITIES: [(&str, &str); 3] = [
    ("binary_sensor", "crying"),
    ("sensor", "cry_reason"),
    ("event", "cry_event"),
];

impl Discovery {
    /// Discovery for the monitor publishing under `topics`, node id from the topic prefix.
    pub fn new(prefix: impl Into<String>, topic_prefix: &str, name: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
            node_id: sanitize_id(topic_prefix),
            name: name.into(),
        }
    }

    /// The topic on which Home Assistant announces `online` after it starts.
    pub fn birth_topic(&self) -> String {
        format!("{}/status", self.prefix)
    }

    fn config_topic(&self, component: &str, object: &str) -> String {
        format!(
            "{}/{component}/{}/{object}/config",
            self.prefix, self.node_id
        )
    }

    /// The retained config messages: a `binary_sensor` (class `sound`) for crying, a `sensor`
    /// for the reason, an `event` for cry start and calm, all on one device and available
    /// while `status` is `online`.
    pub fn configs(&self, topics: &Topics) -> Vec<(String, String)> {
        let device = json!({
            "identifiers": [self.node_id],
            "name": self.name,
            "manufacturer": "cry-classifier",
            "model": "edge-infer",
            "sw_version": env!("CARGO_PKG_VERSION"),
        });
        // The entity id: `object_id` for Home Assistant before 2025.10 (it stops working in
        // 2026.4), `default_entity_id` (the whole id, with its domain) from 2025.10 on; older
        // releases ignore the new key, so every release names the entities alike.
        let common = |component: &str, object: &str, name: &str| {
            json!({
                "name": name,
                "unique_id": format!("{}_{object}", self.node_id),
                "object_id": format!("{}_{object}", self.node_id),
                "default_entity_id": format!("{component}.{}_{object}", self.node_id),
                "availability_topic": topics.status(),
                "payload_available": ONLINE,
                "payload_not_available": OFFLINE,
                "device": device,
                "qos": 1,
            })
        };
        ENTITIES
            .iter()
            .map(|&(component, object)| {
                let mut config = match object {
                    "crying" => common(component, object, "Crying"),
                    "cry_reason" => common(component, object, "Cry reason"),
                    _ => common(component, object, "Cry"),
                };
                match object {
                    "crying" => {
                        config["state_topic"] = json!(topics.state());
                        config["payload_on"] = json!(ON);
                        config["payload_off"] = json!(OFF);
                        config["device_class"] = json!("sound");
                    }
                    "cry_reason" => {
                        config["state_topic"] = json!(topics.reason());
                        config["value_template"] = json!("{{ value_json.reason }}");
                        config["json_attributes_topic"] = json!(topics.reason());
                        config["icon"] = json!("mdi:emoticon-cry-outline");
                    }
                    _ => {
                        config["state_topic"] = json!(topics.event());
                        config["event_types"] = json!([CRY_STARTED, CALM]);
                    }
                }
                (self.config_topic(component, object), config.to_string())
            })
            .collect()
    }

    /// The messages that delete the entities: an empty retained payload on each config topic.
    pub fn removals(&self) -> Vec<(String, String)> {
        ENTITIES
            .iter()
            .map(|&(component, object)| (self.config_topic(component, object), String::new()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_payloads_carry_the_event_type_and_sequence() {
        let cry = AlertEvent {
            seq: 3,
            kind: AlertKind::CryStarted {
                reason: "hungry".into(),
                confidence: 0.81234,
                cry_prob: Some(0.97),
            },
            t: 12.0,
            unix_time: 1.5e9,
        };
        let v: Value = serde_json::from_str(&cry.payload()).unwrap();
        assert_eq!(v["event_type"], "cry_started");
        assert_eq!(v["seq"], 3);
        assert_eq!(v["reason"], "hungry");
        assert_eq!(v["confidence"], 0.8123);
        assert_eq!(v["cry_prob"], 0.97);
        let calm = AlertEvent {
            seq: 4,
            kind: AlertKind::Calm {
                after: "hungry".into(),
                cry_started: 12.0,
            },
            t: 20.0,
            unix_time: 1.5e9,
        };
        let v: Value = serde_json::from_str(&calm.payload()).unwrap();
        assert_eq!(
            (v["event_type"].as_str(), v["seq"].as_u64()),
            (Some("calm"), Some(4))
        );
        assert_eq!(v["cry_started"], 12.0);
        let none: Value = serde_json::from_str(&reason_payload(None)).unwrap();
        assert!(none["reason"].is_null());
    }

    #[test]
    fn ids_keep_only_what_home_assistant_allows() {
        assert_eq!(
            sanitize_id("nursery/cry monitor.1"),
            "nursery_cry_monitor_1"
        );
        assert_eq!(sanitize_id("Kid-2_a"), "Kid-2_a");
        assert_eq!(sanitize_id("bébé"), "b_b_");
        assert_eq!(sanitize_id(""), "_");
    }

    #[test]
    fn discovery_describes_one_device_with_three_entities_bound_to_status() {
        let topics = Topics::new("home/nursery");
        let d = Discovery::new("homeassistant", "home/nursery", "Nursery");
        let configs = d.configs(&topics);
        let names: Vec<&str> = configs.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(
            names,
            [
                "homeassistant/binary_sensor/home_nursery/crying/config",
                "homeassistant/sensor/home_nursery/cry_reason/config",
                "homeassistant/event/home_nursery/cry_event/config",
            ]
        );
        for (_, payload) in &configs {
            let v: Value = serde_json::from_str(payload).unwrap();
            assert_eq!(v["availability_topic"], "home/nursery/status");
            assert_eq!(v["device"]["identifiers"][0], "home_nursery");
            let id = v["unique_id"].as_str().unwrap();
            assert!(
                id.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            );
        }
        let ids: Vec<(Value, Value)> = configs
            .iter()
            .map(|(_, p)| {
                let v: Value = serde_json::from_str(p).unwrap();
                (v["object_id"].clone(), v["default_entity_id"].clone())
            })
            .collect();
        assert_eq!(
            ids,
            [
                (
                    json!("home_nursery_crying"),
                    json!("binary_sensor.home_nursery_crying")
                ),
                (
                    json!("home_nursery_cry_reason"),
                    json!("sensor.home_nursery_cry_reason")
                ),
                (
                    json!("home_nursery_cry_event"),
                    json!("event.home_nursery_cry_event")
                ),
            ],
            "old and new Home Assistant name the entities alike"
        );
        let binary: Value = serde_json::from_str(&configs[0].1).unwrap();
        assert_eq!(binary["device_class"], "sound");
        assert_eq!(binary["state_topic"], "home/nursery/state");
        let event: Value = serde_json::from_str(&configs[2].1).unwrap();
        assert_eq!(event["event_types"], json!(["cry_started", "calm"]));
        assert!(d.removals().iter().all(|(_, p)| p.is_empty()));
        assert_eq!(d.removals().len(), configs.len());
        assert_eq!(d.birth_topic(), "homeassistant/status");
    }
}
