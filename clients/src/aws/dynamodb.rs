//! DynamoDB items with string attributes: the lock item (`LockID`, `Info`) Terraform's S3
//! backend keeps in its lock table, written only if absent.

use std::collections::BTreeMap;

use http::Method;
use serde_json::{Value, json};

use super::signed::{Reply, service_error};
use super::{Aws, AwsError, Target};

/// An item's string attributes, by name.
pub type Item = BTreeMap<String, String>;

fn attributes(item: &Item) -> Value {
    Value::Object(
        item.iter()
            .map(|(k, v)| (k.clone(), json!({ "S": v })))
            .collect(),
    )
}

/// The `__type` (without its namespace) and message of a DynamoDB error.
fn error_of(reply: &Reply) -> (String, String) {
    let body: Value = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
    let kind = body["__type"]
        .as_str()
        .map(|t| t.rsplit('#').next().unwrap_or(t).to_owned())
        .unwrap_or_else(|| format!("HTTP{}", reply.status.as_u16()));
    let message = body["message"]
        .as_str()
        .or_else(|| body["Message"].as_str())
        .unwrap_or_default()
        .to_owned();
    (kind, message)
}

impl Aws {
    async fn dynamodb(
        &self,
        target: &Target,
        operation: &str,
        body: Value,
    ) -> Result<Value, AwsError> {
        let signed = self.signed(target).await?;
        let url = format!("{}/", signed.base("dynamodb"));
        let op = format!("DynamoDB_20120810.{operation}");
        let headers = [
            ("content-type", "application/x-amz-json-1.0"),
            ("x-amz-target", op.as_str()),
        ];
        let body = serde_json::to_vec(&body).unwrap_or_default();
        let reply = signed
            .send("dynamodb", Method::POST, &url, &headers, body)
            .await?;
        if reply.status.is_success() {
            return serde_json::from_slice(&reply.body).map_err(|e| {
                AwsError::Service(
                    "MalformedResponse".into(),
                    format!("{operation} answered something that is not JSON: {e}"),
                )
            });
        }
        let (kind, message) = error_of(&reply);
        if kind == "ConditionalCheckFailedException" {
            return Err(AwsError::ConditionalCheckFailed(message));
        }
        Err(service_error(kind, message))
    }

    /// `PutItem`; with `if_absent = Some(attr)`, only when no item has that key attribute
    /// (`attribute_not_exists(attr)`): [`AwsError::ConditionalCheckFailed`] when one does.
    pub async fn dynamodb_put_item(
        &self,
        target: &Target,
        table: &str,
        item: &Item,
        if_absent: Option<&str>,
    ) -> Result<(), AwsError> {
        let mut body = json!({ "TableName": table, "Item": attributes(item) });
        if let Some(attr) = if_absent {
            body["ConditionExpression"] = json!("attribute_not_exists(#k)");
            body["ExpressionAttributeNames"] = json!({ "#k": attr });
        }
        self.dynamodb(target, "PutItem", body).await.map(drop)
    }

    /// `GetItem` (strongly consistent) by its key attribute; `None` when absent. Only the
    /// item's string attributes are returned.
    pub async fn dynamodb_get_item(
        &self,
        target: &Target,
        table: &str,
        key: (&str, &str),
    ) -> Result<Option<Item>, AwsError> {
        let body = json!({
            "TableName": table,
            "Key": { key.0: { "S": key.1 } },
            "ConsistentRead": true,
        });
        let answer = self.dynamodb(target, "GetItem", body).await?;
        let Some(item) = answer.get("Item").and_then(Value::as_object) else {
            return Ok(None);
        };
        Ok(Some(
            item.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.get("S")?.as_str()?.to_owned())))
                .collect(),
        ))
    }

    /// `DeleteItem` by its key attribute. Deleting an absent item succeeds.
    pub async fn dynamodb_delete_item(
        &self,
        target: &Target,
        table: &str,
        key: (&str, &str),
    ) -> Result<(), AwsError> {
        let body = json!({ "TableName": table, "Key": { key.0: { "S": key.1 } } });
        self.dynamodb(target, "DeleteItem", body).await.map(drop)
    }
}
