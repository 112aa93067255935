"""Study records (学习记录): sessions a site held, with photos as evidence, and compliance with the
monthly task and the required-study lists, turning the paper logbooks (收看记录, 照片报送) into data."""
