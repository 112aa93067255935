"""Study (学习): what sites must study (study lists: 必学清单 and optional lists, for a period and regions)
and what they did (学习记录): sessions with photos as evidence, viewing evidence, compliance with the
monthly task and the required lists, assessment, feedback and demand, turning the paper logbooks
(收看记录, 照片报送) into data."""
