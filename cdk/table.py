"""The audit table, exactly as collector/store/schema.py defines it, hardened for production.

During the migration of a table deployed with the three old indexes, the spec it is given also
lists the legacy indexes the table still has (`legacyIndexes` in cdk/settings.py): each deploy of
the documented sequence then adds or removes exactly one index, the only change CloudFormation
accepts on a table's global secondary indexes in one stack update (docs/deploy.md).
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from collector.store.schema import TIME_INDEX, UNSHARDED_TIME_INDEX, TableSpec

KINDS = {
    "S": dynamodb.AttributeType.STRING,
    "N": dynamodb.AttributeType.NUMBER,
    "B": dynamodb.AttributeType.BINARY,
}


CLASSES = {
    # Standard is DynamoDB's default: left out of the template, as the first versions deployed it.
    "standard": None,
    "infrequent-access": dynamodb.TableClass.STANDARD_INFREQUENT_ACCESS,
}


def audit_table(
    scope: Construct, construct_id: str, spec: TableSpec, table_class: str = "infrequent-access"
) -> dynamodb.Table:
    """On-demand, TTL, point-in-time recovery, encrypted, deletion-protected and retained, with a
    stream of old and new images: the index consumer (cdk/index_consumer.py) writes the time index
    from it, and a REMOVE needs the old image to say which record went.

    Standard-Infrequent Access by default: the trail is written once and read rarely, and at the
    default retention its storage outweighs its writes, the case that class is priced for
    (cheaper storage, dearer requests; docs/costs.md).
    """
    types = {d["AttributeName"]: d["AttributeType"] for d in spec.attribute_definitions()}

    def attribute(name: str) -> dynamodb.Attribute:
        return dynamodb.Attribute(name=name, type=KINDS[types[name]])

    table = dynamodb.Table(
        scope,
        construct_id,
        partition_key=attribute(spec.partition_key),
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        table_class=CLASSES[table_class],
        time_to_live_attribute=spec.ttl_attribute,
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True,
        ),
        encryption=dynamodb.TableEncryption.AWS_MANAGED,
        stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
        deletion_protection=True,
        # The audit trail outlives the stack: `cdk destroy` leaves it; docs/deploy.md says how to delete it.
        removal_policy=RemovalPolicy.RETAIN,
    )
    for index in spec.indexes:
        table.add_global_secondary_index(
            index_name=index.name,
            partition_key=attribute(index.partition_key),
            sort_key=attribute(index.sort_key),
            projection_type=dynamodb.ProjectionType.ALL
            if index.projection is None
            else dynamodb.ProjectionType.INCLUDE,
            non_key_attributes=None if index.projection is None else list(index.projection),
        )
    return table


def time_index_arns(table: dynamodb.ITable, legacy_indexes: tuple[str, ...]) -> list[str]:
    """What a reader of the trail may Query: the time index, and during a migration from the
    unsharded one (still in `legacyIndexes`) that one too, which the store reads until the sharded
    index is ACTIVE (collector/store/dynamodb.py)."""
    return [
        f"{table.table_arn}/index/{index}"
        for index in (TIME_INDEX.name, UNSHARDED_TIME_INDEX.name)
        if index == TIME_INDEX.name or index in legacy_indexes
    ]
