//! placeholder: the media plane lands here.
