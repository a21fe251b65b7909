//! Reading every message on an SQS queue without deleting any, for tests that check what a
//! consumer sent: each message is hidden for five minutes once received, so a loop of receives
//! ends when none is left visible.

use aws_sdk_sqs::types::{Message, MessageSystemAttributeName};

/// Every message now visible on `queue_url`, with its message and system attributes.
pub async fn receive_all(client: &aws_sdk_sqs::Client, queue_url: &str) -> Vec<Message> {
    let mut messages = Vec::new();
    loop {
        let page = client
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .message_attribute_names("All")
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .visibility_timeout(300)
            .send()
            .await
            .expect("ReceiveMessage");
        if page.messages().is_empty() {
            return messages;
        }
        messages.extend(page.messages().iter().cloned());
    }
}
