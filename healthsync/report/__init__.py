"""Portfolio report: CS metrics and views over what the state store recorded (DESIGN.md 2, 10).

It costs no API calls: every number comes from the runs' account snapshots, health history,
contract outcomes and mirrored NPS answers, so it reads the same for Salesforce and HubSpot teams.
"""
