//! Each probe declares its fields once ([`probe_fields!`]): which hold templates and matchers
//! (so rendering and reference checks can walk them), and, for each matcher, the label and unit
//! people read (`used < 90%`). Expectations in words, template walks, rendering before a run and
//! the labels of check results all iterate that one declaration.

use crate::model::matcher::{Matcher, Unit};
use crate::model::template::Template;
use std::collections::BTreeMap;

/// A matcher a probe was given, with what people call the value it is about.
#[derive(Debug, Clone, Copy)]
pub struct Measure<'a, F> {
    /// Which field: the probe's own field enum, so its check must say what it saw for each.
    pub field: F,
    pub label: &'static str,
    pub unit: Unit,
    pub matcher: &'a Matcher,
}

impl<F> Measure<'_, F> {
    /// The expectation in words: `used < 90%`.
    pub fn describe(&self) -> String {
        format!("{} {}", self.label, self.matcher.describe(self.unit))
    }
}

/// The gauge a measured number becomes in `runbook watch`'s `/metrics` (without the `runbook_`
/// prefix), and its help text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gauge {
    pub name: &'static str,
    pub help: &'static str,
}

/// A value inside a probe that is rendered before the probe runs.
pub(crate) enum Slot<'a> {
    Template(&'a Template),
    Matcher(&'a Matcher),
}

pub(crate) enum SlotMut<'a> {
    Template(&'a mut Template),
    Matcher(&'a mut Matcher),
}

/// The templates and matchers of one field's value.
pub(crate) trait Slots {
    fn slots<'a>(&'a self, out: &mut Vec<Slot<'a>>);
    fn slots_mut<'a>(&'a mut self, out: &mut Vec<SlotMut<'a>>);
}

impl Slots for Template {
    fn slots<'a>(&'a self, out: &mut Vec<Slot<'a>>) {
        out.push(Slot::Template(self));
    }
    fn slots_mut<'a>(&'a mut self, out: &mut Vec<SlotMut<'a>>) {
        out.push(SlotMut::Template(self));
    }
}

impl<M: AsRef<Matcher> + AsMut<Matcher>> Slots for Option<M> {
    fn slots<'a>(&'a self, out: &mut Vec<Slot<'a>>) {
        if let Some(m) = self {
            out.push(Slot::Matcher(m.as_ref()));
        }
    }
    fn slots_mut<'a>(&'a mut self, out: &mut Vec<SlotMut<'a>>) {
        if let Some(m) = self {
            out.push(SlotMut::Matcher(m.as_mut()));
        }
    }
}

/// Header values, JSON pointer matchers: every value of the map.
impl<K, V: Slots> Slots for BTreeMap<K, V> {
    fn slots<'a>(&'a self, out: &mut Vec<Slot<'a>>) {
        self.values().for_each(|v| v.slots(out));
    }
    fn slots_mut<'a>(&'a mut self, out: &mut Vec<SlotMut<'a>>) {
        self.values_mut().for_each(|v| v.slots_mut(out));
    }
}

/// A JSON pointer's matcher inside a map (not optional there).
impl Slots for crate::model::matcher::ValueMatcher {
    fn slots<'a>(&'a self, out: &mut Vec<Slot<'a>>) {
        out.push(Slot::Matcher(&self.0));
    }
    fn slots_mut<'a>(&'a mut self, out: &mut Vec<SlotMut<'a>>) {
        out.push(SlotMut::Matcher(&mut self.0));
    }
}

/// Declares a probe's fields: the plain slots (templates, maps) and the measures, each with its
/// field enum variant, label and unit, and for a number the probe observes whether or not it was
/// asked about, `=> "gauge_name", "help"`. Generates the field enum (with `ALL`, `label()`,
/// `unit()`, `gauge()`), `measures()` and [`Slots`].
macro_rules! probe_fields {
    (
        $probe:ident, $(#[$fmeta:meta])* $field_enum:ident;
        slots: [$($slot:ident),* $(,)?];
        measures: [$(
            $variant:ident: $field:ident, $label:literal, $unit:ident $(=> $gauge:literal, $help:literal)?
        );* $(;)?] $(;)?
    ) => {
        $(#[$fmeta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $field_enum {
            $($variant),*
        }

        impl $field_enum {
            /// Every field, in declaration order.
            #[allow(dead_code)]
            pub const ALL: &'static [$field_enum] = &[$($field_enum::$variant),*];

            /// The gauge `runbook watch` exports the observed value as, if it is a number.
            #[allow(dead_code)]
            pub fn gauge(self) -> Option<$crate::model::probe::fields::Gauge> {
                match self {
                    $($field_enum::$variant => {
                        #[allow(unused_mut, unused_assignments)]
                        let mut gauge = None;
                        $(gauge = Some($crate::model::probe::fields::Gauge { name: $gauge, help: $help });)?
                        gauge
                    }),*
                }
            }

            /// What people call the value (`used`, `memory total`).
            pub fn label(self) -> &'static str {
                match self {
                    $($field_enum::$variant => $label),*
                }
            }

            pub fn unit(self) -> $crate::model::matcher::Unit {
                match self {
                    $($field_enum::$variant => $crate::model::matcher::Unit::$unit),*
                }
            }
        }

        impl $probe {
            /// The matchers given, in declaration order (the order checks report them in).
            #[allow(unused_mut)]
            pub fn measures(&self) -> Vec<$crate::model::probe::fields::Measure<'_, $field_enum>> {
                let mut out = Vec::new();
                $(
                    if let Some(m) = &self.$field {
                        out.push($crate::model::probe::fields::Measure {
                            field: $field_enum::$variant,
                            label: $label,
                            unit: $crate::model::matcher::Unit::$unit,
                            matcher: AsRef::<$crate::model::matcher::Matcher>::as_ref(m),
                        });
                    }
                )*
                out
            }
        }

        impl $crate::model::probe::fields::Slots for $probe {
            fn slots<'a>(&'a self, out: &mut Vec<$crate::model::probe::fields::Slot<'a>>) {
                $($crate::model::probe::fields::Slots::slots(&self.$slot, out);)*
                $($crate::model::probe::fields::Slots::slots(&self.$field, out);)*
            }
            fn slots_mut<'a>(&'a mut self, out: &mut Vec<$crate::model::probe::fields::SlotMut<'a>>) {
                $($crate::model::probe::fields::Slots::slots_mut(&mut self.$slot, out);)*
                $($crate::model::probe::fields::Slots::slots_mut(&mut self.$field, out);)*
            }
        }
    };
}

pub(crate) use probe_fields;
