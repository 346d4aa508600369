//! Enums whose values are written as words (`passed`, `timed_out`, `critical`) in YAML, JSON and
//! output: one table gives the variants and their names, and serde, `Display` and parsing all
//! read it — no second, hand-kept spelling to drift from the first.

/// Declares a fieldless enum and its names: `as_str`, `from_name`, `ALL`, `NAMES`, `Display`,
/// and serde as the name (an unknown name is serde's usual "unknown variant … expected one of").
///
/// ```ignore
/// named_enum! {
///     /// How a step ended.
///     pub enum Outcome { Passed = "passed", TimedOut = "timed_out" }
/// }
/// ```
macro_rules! named_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        $vis enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            $vis const ALL: &'static [$name] = &[$($name::$variant),+];
            /// Every name, in declaration order.
            $vis const NAMES: &'static [&'static str] = &[$($text),+];

            /// The name as it is written in files and output.
            $vis fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// The value written as `text`, if any.
            $vis fn from_name(text: &str) -> Option<$name> {
                match text {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                $name::from_name(&text)
                    .ok_or_else(|| <D::Error as serde::de::Error>::unknown_variant(&text, $name::NAMES))
            }
        }
    };
}

pub(crate) use named_enum;

#[cfg(test)]
mod tests {
    named_enum! {
        enum Colour { Red = "red", DarkBlue = "dark_blue" }
    }

    #[test]
    fn names_round_trip_through_serde() {
        assert_eq!(serde_json::to_string(&Colour::DarkBlue).unwrap(), "\"dark_blue\"");
        assert_eq!(serde_json::from_str::<Colour>("\"red\"").unwrap(), Colour::Red);
        let err = serde_json::from_str::<Colour>("\"green\"").unwrap_err().to_string();
        assert!(err.starts_with("unknown variant `green`, expected `red` or `dark_blue`"), "{err}");
        assert_eq!(Colour::ALL.iter().map(|c| c.to_string()).collect::<Vec<_>>(), Colour::NAMES);
        assert_eq!(Colour::from_name("dark_blue"), Some(Colour::DarkBlue));
    }
}
