//! Feedback after a visit, as the conversation and storage share it.

/// The feedback request a conversation's next message may answer, and
/// whether the patient already gave the rating (the message may then be a
/// comment).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AwaitedFeedback {
    pub request: i64,
    pub rated: bool,
}

/// What the patient answered to a feedback request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedbackAnswer {
    /// A rating, 1 to 5; `with_comment`: the message is kept as the comment too.
    Rating { score: u8, with_comment: bool },
    /// The message is a comment.
    Comment,
    /// "non merci": no feedback, and no reminder.
    Declined,
}
