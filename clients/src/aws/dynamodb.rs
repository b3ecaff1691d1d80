//! DynamoDB items with string attributes: the lock item (`LockID`, `Info`) Terraform's S3
//! backend keeps in its lock table, written only if absent.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::signed::{JsonApi, service_error};
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

/// DynamoDB's JSON protocol.
const DYNAMODB: JsonApi = JsonApi {
    service: "dynamodb",
    prefix: "DynamoDB_20120810",
    version: "1.0",
};

impl Aws {
    async fn dynamodb(
        &self,
        target: &Target,
        operation: &str,
        body: Value,
    ) -> Result<Value, AwsError> {
        self.json_call(target, &DYNAMODB, operation, body, |kind, message| {
            if kind == "ConditionalCheckFailedException" {
                AwsError::ConditionalCheckFailed(message)
            } else {
                service_error(kind, message)
            }
        })
        .await
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
