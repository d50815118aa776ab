//! placeholder: the SMS PDU codec lands here.
