//! Placeholder: the host's network facts for the Basic status page (F-5.2.2.5 to 11).
