//! Device kinds, alarm kinds, severities and urgencies: the vocabulary shared by
//! nodes, the gateway's rules, work orders and integrators.

/// Declares a string-backed enum with a stable wire name per variant.
macro_rules! wire_enum {
    ($(#[$m:meta])* pub enum $name:ident { $($(#[$vm:meta])* $var:ident = $wire:literal,)+ }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, ::serde::Serialize, ::serde::Deserialize)]
        pub enum $name {
            $($(#[$vm])* #[serde(rename = $wire)] $var,)+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$var,)+];

            /// The variant's wire name.
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$var => $wire,)+ }
            }

            /// Parses a wire name.
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($wire => Some($name::$var),)+ _ => None }
            }
        }

        impl core::fmt::Display for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use wire_enum;

wire_enum! {
    /// The built-in kinds of device. A profile file can add kinds of its own
    /// (see [`crate::profile`]); these are the ones every gateway knows.
    pub enum DeviceKind {
        /// Optical or ionisation smoke detector.
        Smoke = "smoke",
        /// Heat detector (fixed temperature or rate of rise).
        Heat = "heat",
        /// Manual call point ("break glass").
        ManualCallPoint = "manual-call-point",
        /// Combustible gas detector, usually with a shut-off valve.
        Gas = "gas",
        /// Water leak sensor.
        WaterLeak = "water-leak",
        /// Water level (tank, sump, basement flooding).
        WaterLevel = "water-level",
        /// Door contact (open/closed).
        DoorContact = "door-contact",
        /// Access-control lock controller (escape routes, entrances).
        Lock = "lock",
        /// Card reader of an access-control point.
        CardReader = "card-reader",
        /// Camera with event analytics (intrusion, blocked fire lane).
        Camera = "camera",
        /// E-bike charging point (over-temperature, over-current).
        EbikeCharger = "ebike-charger",
        /// Elevator controller (trapped passenger, fault).
        Elevator = "elevator",
        /// Manhole cover (tilt, displacement).
        ManholeCover = "manhole-cover",
        /// Temperature and humidity sensor.
        TempHumidity = "temp-humidity",
        /// A help or call button (一键呼叫: lobby, elevator, an elderly
        /// resident's flat): a press asks for someone to come.
        CallButton = "call-button",
    }
}

wire_enum! {
    /// What an alarm is about. Fire-class kinds are life safety.
    pub enum AlarmKind {
        /// Fire, from smoke, heat or a manual call point.
        Fire = "fire",
        /// Combustible gas leak.
        Gas = "gas",
        /// Water leak.
        WaterLeak = "water-leak",
        /// Water level out of bounds (flooding).
        WaterLevel = "water-level",
        /// Intrusion seen by a camera or contact.
        Intrusion = "intrusion",
        /// A door opened without a valid unlock.
        DoorForced = "door-forced",
        /// A door held open past its limit.
        DoorHeld = "door-held",
        /// A fire lane is blocked.
        FireLaneBlocked = "fire-lane-blocked",
        /// E-bike charger overheating or over-current.
        EbikeOverheat = "ebike-overheat",
        /// Passenger trapped or elevator failure.
        ElevatorFault = "elevator-fault",
        /// Manhole cover open or displaced.
        ManholeOpen = "manhole-open",
        /// A measured value crossed a profile threshold.
        Threshold = "threshold",
        /// A device was removed from its base or opened.
        Tamper = "tamper",
        /// A device stopped reporting.
        DeviceOffline = "device-offline",
        /// A device reports a sensor or hardware fault.
        SensorFault = "sensor-fault",
        /// A device's battery is low.
        LowBattery = "low-battery",
        /// A detector toggled too often and is treated as faulty.
        Chattering = "chattering",
        /// A device's link dropped again and again within a short window:
        /// one fault for the whole episode instead of one outage per drop.
        UnstableLink = "unstable-link",
        /// Someone asks for help: a call button was pressed, or a resident
        /// reported a problem on the site's report form (有呼必应).
        HelpCall = "help-call",
    }
}

impl AlarmKind {
    /// Life-safety alarms are never shed, delayed behind telemetry or hidden
    /// by a fault, and may drive linkage (door release, valve close).
    pub const fn is_life_safety(self) -> bool {
        matches!(self, Self::Fire | Self::Gas)
    }

    /// Faults describe the equipment, not the premises: they are never
    /// reported as a fire and never suppress one.
    pub const fn is_fault(self) -> bool {
        matches!(
            self,
            Self::DeviceOffline
                | Self::SensorFault
                | Self::LowBattery
                | Self::Chattering
                | Self::UnstableLink
        )
    }

    /// The severity a gateway gives this kind when no policy says otherwise.
    pub const fn default_severity(self) -> Severity {
        match self {
            Self::Fire | Self::Gas => Severity::Critical,
            Self::WaterLeak
            | Self::WaterLevel
            | Self::Intrusion
            | Self::DoorForced
            | Self::FireLaneBlocked
            | Self::EbikeOverheat
            | Self::ElevatorFault
            | Self::ManholeOpen
            | Self::HelpCall => Severity::Major,
            Self::DoorHeld | Self::Threshold | Self::Tamper | Self::DeviceOffline => {
                Severity::Minor
            }
            Self::SensorFault | Self::LowBattery | Self::Chattering | Self::UnstableLink => {
                Severity::Minor
            }
        }
    }
}

wire_enum! {
    /// How bad an alarm is (轻重: the "weight" half of triage).
    pub enum Severity {
        /// Informational; recorded, never a ticket by default.
        Info = "info",
        /// Needs attention in the normal course of work.
        Minor = "minor",
        /// Needs attention soon; damage or risk to property.
        Major = "major",
        /// Risk to life.
        Critical = "critical",
    }
}

wire_enum! {
    /// How soon it must be handled (缓急: the "haste" half of triage).
    pub enum Urgency {
        /// Planned work.
        Routine = "routine",
        /// Within the working shift.
        Urgent = "urgent",
        /// Now: "urgent ones rushed".
        Immediate = "immediate",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_round_trip() {
        for k in DeviceKind::ALL {
            assert_eq!(DeviceKind::parse(k.as_str()), Some(*k));
        }
        for k in AlarmKind::ALL {
            assert_eq!(AlarmKind::parse(k.as_str()), Some(*k));
        }
        assert_eq!(DeviceKind::ALL.len(), 15);
    }

    #[test]
    fn faults_are_never_life_safety() {
        for k in AlarmKind::ALL {
            assert!(!(k.is_fault() && k.is_life_safety()), "{k}");
        }
    }
}
