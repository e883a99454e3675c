# coding=utf-8
"""Writes data/lcqmc_sample: everyday Chinese question pairs in the LCQMC layout.

Each file (train.txt, dev.txt, test.txt) has ``text_a<TAB>text_b<TAB>label``
lines, no header; label 1 means the two questions ask the same thing.

The questions are built from topics (foods, fruits, travel destinations,
devices, home appliances, pets, documents, skills, symptoms, house plants,
apps, public places), each with a list of entities and a few question intents
(how to make, how long does it keep, where to buy, how much, ...). Every
intent has several paraphrase templates (怎么 / 如何 / 怎样 / 的方法 ...).

* Positives: the same entity and intent in two different templates.
* Hard negatives: the same entity with another intent; the same intent about
  another entity of the same topic (sometimes in the very same template).
* Easy negatives: an entity and intent of another topic.

Some entities of every topic are held out: they occur only in dev.txt (one
per topic) or only in test.txt (two per topic), never in train.txt, so the
dev and test scores measure how well a model generalises to entities it was
not fine-tuned on. Every generated dev/test pair is about a held-out entity.

The hand-written pairs of the original sample (48 train, 16 dev, 16 test)
come first in their files, unchanged; the generated pairs follow.

pretrain_questions.txt is unlabelled pretraining text (one question per line,
a blank line between documents): FAQ category pages, each listing questions
of one intent about different training entities; no dev/test entity occurs
(see ``pretraining_documents``). make demo pretrains on it with next-sentence
prediction before fine-tuning.

The same --random_seed always gives byte-identical files (Python 3.7 to 3.11).

Usage:
    python scripts/make_pair_sample.py                   # -> data/lcqmc_sample/
    python scripts/make_pair_sample.py --output_dir=/tmp/pairs --random_seed=7
"""

from __future__ import print_function

import argparse
import collections
import itertools
import os
import random
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUTPUT_DIR = os.path.join(ROOT, "data", "lcqmc_sample")
SPLITS = ("train", "dev", "test")
PRETRAINING_FILE = "pretrain_questions.txt"
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
import script_utils  # noqa: E402  pylint: disable=wrong-import-position

# Share of each kind of generated pair.
POSITIVE_SHARE = 0.5
SAME_ENTITY_SHARE = 0.2  # hard negative: same entity, other intent
SAME_INTENT_SHARE = 0.2  # hard negative: same intent, related entity
# The rest are easy negatives (another topic).
SAME_TEMPLATE_SHARE = 0.4  # of the same-intent negatives: identical template

Intent = collections.namedtuple("Intent", "name templates scope")
Topic = collections.namedtuple("Topic", "name train dev test intents")


def intent(name, templates, only=None, skip=None):
    """An intent: paraphrase templates with ``{e}`` for the entity.

    ``only`` (the entities it applies to) or ``skip`` (those it does not
    apply to) restrict it within its topic.
    """
    return Intent(name, tuple(templates),
                  (tuple(only) if only else None, tuple(skip) if skip else None))


# Templates shared by the device and appliance topics.
_REPAIR = ("{e}坏了去哪里修", "哪里可以修{e}", "{e}在哪儿维修", "{e}坏了找谁修")
_BRAND = ("{e}什么牌子好", "哪个牌子的{e}好用", "{e}买什么牌子的好", "{e}哪个品牌质量好")
_PRICE = ("{e}多少钱", "买个{e}要多少钱", "{e}一般要多少钱", "{e}大概什么价位")

TOPICS = (
    Topic(
        "food", train=("红烧肉", "糖醋排骨", "宫保鸡丁", "鱼香肉丝", "麻婆豆腐", "酸菜鱼", "番茄炒蛋", "可乐鸡翅", "水煮鱼", "回锅肉",
                       "饺子", "包子", "月饼", "小龙虾", "红烧鱼", "清蒸鱼", "炸酱面", "牛肉面", "葱油饼", "煎饺", "馄饨", "烧卖",
                       "油条", "春卷", "鸡蛋羹", "肉夹馍"), dev=("粽子",), test=("蛋炒饭", "蛋糕"),
        intents=(
            intent("make",
                   ("{e}怎么做", "怎么做{e}", "{e}的做法", "如何做{e}", "{e}怎样做才好吃", "在家怎么做{e}", "做{e}的方法是什么")),
            intent("calories", ("{e}热量高吗", "吃{e}会发胖吗", "{e}的热量高不高", "吃{e}容易长胖吗", "多吃{e}会不会胖")),
            intent("keep", ("{e}能放几天", "{e}可以保存多久", "做好的{e}能放多长时间", "{e}放多久会坏", "吃不完的{e}能放多久")),
            intent("ingredients", ("做{e}需要什么材料", "{e}要用哪些食材", "{e}的配料有哪些", "做{e}要准备哪些材料")),
            intent("duration", ("做{e}要多长时间", "{e}一般要做多久", "做一次{e}要花多久", "{e}需要做多长时间")),
            intent("reheat", ("{e}凉了怎么加热", "剩下的{e}怎么热才好吃", "吃剩的{e}要怎么加热", "{e}放凉了怎么热一下"),
                   skip=("月饼", "蛋糕")),
            intent("freeze", ("{e}可以冷冻吗", "{e}能放冰箱冷冻吗", "{e}能不能冻起来", "{e}适合冷冻保存吗")),
        )),
    Topic(
        "fruit",
        train=("苹果", "香蕉", "西瓜", "葡萄", "橙子", "草莓", "芒果", "荔枝", "菠萝", "柚子", "桃子", "哈密瓜", "火龙果", "雪梨",
               "李子", "石榴", "山竹", "椰子", "柠檬", "蓝莓", "枇杷", "杨梅", "橘子", "柿子", "牛油果", "百香果"),
        dev=("樱桃",), test=("榴莲", "猕猴桃"), intents=(
            intent("choose", ("怎么挑{e}", "{e}怎么挑选", "如何挑到好吃的{e}", "挑{e}有什么技巧", "买{e}怎么挑才好")),
            intent("keep", ("{e}能放几天", "{e}可以放多长时间", "买回来的{e}能放多久", "{e}放多久会坏")),
            intent("fridge", ("{e}可以放冰箱吗", "{e}能不能放冰箱", "{e}适合放在冰箱里吗", "{e}放冰箱里保存行吗")),
            intent("price", ("{e}多少钱一斤", "现在{e}什么价", "{e}一斤卖多少钱", "{e}现在多少钱一斤")),
            intent("benefit", ("吃{e}有什么好处", "{e}有什么营养", "多吃{e}对身体有哪些好处", "{e}的营养价值有哪些")),
            intent("season", ("{e}什么季节上市", "{e}几月份成熟", "什么时候是吃{e}的季节", "{e}是哪个季节的水果", "{e}一般几月上市")),
            intent("calories", ("吃{e}会胖吗", "{e}热量高吗", "{e}的热量高不高", "吃{e}容易长胖吗")),
        )),
    Topic(
        "destination", train=("北京", "上海", "杭州", "成都", "西安", "青岛", "三亚", "丽江", "南京", "重庆", "苏州",
                              "大理", "哈尔滨", "长沙", "广州", "深圳", "天津", "武汉", "昆明", "拉萨", "张家界", "黄山",
                              "九寨沟", "海南", "新疆", "洛阳", "扬州", "珠海"), dev=("桂林",), test=("云南", "厦门"),
        intents=(
            intent("sights",
                   ("{e}有什么好玩的地方", "{e}有哪些景点", "去{e}玩哪里比较好", "{e}值得去的地方有哪些", "{e}有哪些好玩的景点")),
            intent("food", ("{e}有什么好吃的", "{e}有哪些特色小吃", "去{e}必吃的美食有哪些", "{e}的特色美食是什么")),
            intent("season",
                   ("什么时候去{e}最好", "{e}哪个季节去最合适", "几月份去{e}旅游最好", "去{e}旅游什么时间合适", "哪个季节去{e}最好")),
            intent("days", ("去{e}玩几天合适", "{e}旅游要安排几天", "{e}玩几天够", "去{e}旅行一般需要几天")),
            intent("cost", ("去{e}旅游要花多少钱", "{e}旅游一趟大概多少钱", "去{e}玩一趟要多少钱", "{e}旅游的费用大概是多少")),
            intent("winter", ("{e}冬天冷不冷", "{e}的冬天冷吗", "{e}冬天会很冷吗", "冬天的{e}冷不冷")),
            intent("specialty", ("{e}有什么特产", "{e}有哪些土特产", "去{e}买什么特产好", "{e}的特产是什么")),
            intent("transport", ("{e}交通方便吗", "在{e}出行方便吗", "{e}的公共交通方便吗", "在{e}坐公交出行方便吗")),
        )),
    Topic(
        "device",
        train=("手机", "笔记本电脑", "平板", "路由器", "相机", "智能手表", "显示器", "音箱", "键盘", "电视", "游戏机", "鼠标",
               "无人机", "行车记录仪", "扫描仪", "对讲机", "收音机", "电子琴", "充电宝", "摄像头", "移动硬盘", "手环"),
        dev=("打印机",), test=("投影仪", "蓝牙耳机"), intents=(
            intent("repair", _REPAIR),
            intent("brand", _BRAND),
            intent("price", _PRICE),
            intent("lifespan", ("{e}一般能用几年", "{e}的使用寿命有多长", "{e}能用多少年", "一般{e}用几年就该换了")),
            intent("buy", ("哪里能买到{e}", "{e}在哪里买", "去哪儿买{e}比较好", "买{e}去哪里买好")),
            intent("secondhand", ("二手{e}值得买吗", "买二手{e}靠谱吗", "二手的{e}能买吗", "{e}买二手的划算吗")),
            intent("wont_start", ("{e}开不了机怎么办", "{e}无法开机怎么处理", "{e}突然开不了机了怎么办", "{e}不能开机了怎么解决"),
                   skip=("路由器", "键盘", "鼠标", "音箱", "充电宝", "摄像头", "移动硬盘")),
            intent(
                "charge", ("{e}充不进电怎么办", "{e}无法充电怎么解决", "{e}充不上电是怎么回事", "{e}充电没反应怎么办"),
                only=("手机", "笔记本电脑", "平板", "相机", "智能手表", "游戏机", "蓝牙耳机", "鼠标", "无人机", "对讲机", "充电宝",
                      "手环")),
        )),
    Topic(
        "appliance",
        train=("空调", "冰箱", "洗衣机", "热水器", "微波炉", "电饭煲", "油烟机", "扫地机器人", "烤箱", "空气净化器", "电热水壶", "豆浆机",
               "吸尘器", "电暖器", "榨汁机", "破壁机", "咖啡机", "消毒柜", "饮水机", "电磁炉", "空气炸锅", "电吹风", "浴霸", "除湿机"),
        dev=("电风扇",), test=("洗碗机", "加湿器"), intents=(
            intent("repair", _REPAIR),
            intent("brand", _BRAND),
            intent("price", _PRICE),
            intent("clean", ("{e}怎么清洗", "如何清洗{e}", "{e}脏了怎么清理", "清洗{e}的方法")),
            intent("power", ("{e}费电吗", "{e}耗电量大吗", "{e}用电多不多", "{e}是不是很费电")),
            intent("install", ("{e}怎么安装", "{e}的安装方法", "如何安装{e}", "{e}要怎么装"),
                   only=("空调", "热水器", "油烟机", "洗碗机", "洗衣机", "浴霸", "消毒柜")),
            intent("noise", ("{e}声音很大怎么办", "{e}噪音大怎么解决", "{e}响声特别大怎么回事", "{e}运行时噪音大怎么办"),
                   skip=("电饭煲", "烤箱", "微波炉", "电热水壶", "消毒柜", "电磁炉", "浴霸")),
        )),
    Topic(
        "pet", train=("猫咪", "兔子", "金鱼", "鹦鹉", "荷兰猪", "刺猬", "龙猫", "八哥", "松鼠", "小香猪", "蜥蜴", "孔雀鱼",
                      "锦鲤", "变色龙", "守宫", "蜜袋鼯", "雪貂", "文鸟", "画眉", "鸽子"), dev=("乌龟",),
        test=("狗狗", "仓鼠"), intents=(
            intent("feed", ("{e}吃什么", "{e}平时喂什么好", "养{e}要喂什么", "{e}喜欢吃什么东西", "给{e}喂什么食物好")),
            intent("lifespan", ("{e}能活多少年", "{e}的寿命有多长", "{e}一般能活多久", "{e}最多能活几年")),
            intent("raise", ("{e}怎么养", "怎样养好{e}", "养{e}要注意什么", "{e}的饲养方法")),
            intent("wont_eat", ("{e}不吃东西怎么办", "{e}不肯吃饭怎么回事", "{e}不爱吃东西怎么办", "{e}好几天不吃东西了怎么办")),
            intent("price", ("{e}多少钱一只", "买一只{e}要多少钱", "{e}一般卖多少钱", "{e}现在什么价")),
            intent("bath", ("{e}多久洗一次澡", "{e}需要经常洗澡吗", "给{e}洗澡多久一次合适", "{e}多长时间洗一次澡"),
                   only=("猫咪", "狗狗", "兔子", "荷兰猪", "刺猬", "小香猪", "雪貂")),
            intent("easy", ("{e}好养吗", "养{e}难不难", "{e}容易养活吗", "新手适合养{e}吗")),
            intent("shed", ("{e}掉毛严重怎么办", "{e}掉毛很厉害怎么解决", "{e}老是掉毛怎么办", "{e}掉毛太多怎么处理"),
                   only=("猫咪", "狗狗", "兔子", "荷兰猪", "龙猫", "仓鼠", "雪貂")),
        )),
    Topic(
        "document",
        train=("身份证", "驾驶证", "社保卡", "银行卡", "信用卡", "营业执照", "结婚证", "户口本", "医保卡", "学生证", "签证", "公交卡",
               "房产证", "出生证明", "健康证", "行驶证", "教师资格证", "准生证", "老年卡", "无犯罪记录证明"), dev=("居住证",),
        test=("护照", "港澳通行证"), intents=(
            intent("apply_how", ("{e}怎么办理", "如何办理{e}", "{e}的办理流程是什么", "怎样申请{e}", "办{e}的步骤有哪些")),
            intent("apply_where", ("{e}在哪里办", "去哪里办{e}", "{e}要到哪个部门办理", "办{e}去哪儿办")),
            intent("time", ("{e}多久能办好", "办{e}要几天", "{e}办下来需要多长时间", "{e}几天能拿到")),
            intent("cost", ("办{e}要多少钱", "{e}的办理费用是多少", "办理{e}需要交多少钱", "办个{e}要花多少钱")),
            intent("lost", ("{e}丢了怎么办", "{e}丢失了怎么补办", "{e}不见了怎么处理", "{e}弄丢了该怎么办")),
            intent("materials", ("办{e}要带什么材料", "{e}需要准备哪些材料", "办理{e}要带哪些证件", "申请{e}需要什么资料")),
            intent(
                "expire", ("{e}过期了怎么办", "{e}到期了怎么换", "{e}过期了要怎么换新的", "{e}到期后怎么续办"),
                only=("身份证", "护照", "驾驶证", "银行卡", "信用卡", "港澳通行证", "居住证", "签证", "营业执照", "健康证",
                      "教师资格证")),
        )),
    Topic(
        "skill", train=("钢琴", "编程", "画画", "开车", "日语", "英语", "跳舞", "滑雪", "摄影", "围棋", "瑜伽", "韩语",
                        "小提琴", "架子鼓", "素描", "街舞", "武术", "轮滑", "篮球", "羽毛球", "乒乓球", "象棋", "法语", "德语"),
        dev=("游泳",), test=("吉他", "书法"), intents=(
            intent("how", ("怎么学{e}", "{e}怎么学", "如何学好{e}", "学{e}有什么好方法", "怎样才能学好{e}")),
            intent("duration", ("学{e}要多久", "{e}多久能学会", "学会{e}需要多长时间", "{e}要学多久才能学会")),
            intent("where", ("哪里可以学{e}", "{e}去哪里学比较好", "在哪儿能学{e}", "想学{e}去哪学")),
            intent("cost", ("学{e}要多少钱", "{e}培训班多少钱", "学{e}一般要花多少钱", "学{e}的费用是多少")),
            intent("adult", ("大人学{e}晚不晚", "成年人还能学{e}吗", "三十岁学{e}来得及吗", "年纪大了还能学会{e}吗")),
            intent("hard", ("{e}难学吗", "学{e}难不难", "{e}好学吗", "{e}是不是很难学")),
            intent("self", ("{e}能自学吗", "自学{e}可以吗", "{e}可以自己在家学吗", "不报班能学会{e}吗")),
            intent("kids", ("孩子几岁学{e}合适", "小孩多大可以学{e}", "几岁开始学{e}最好", "儿童学{e}从几岁开始好"),
                   skip=("开车",)),
        )),
    Topic(
        "symptom",
        train=("感冒", "咳嗽", "失眠", "拉肚子", "过敏", "胃疼", "嗓子疼", "便秘", "腰疼", "口腔溃疡", "流鼻血", "长痘痘", "中暑",
               "耳鸣", "贫血", "痛风", "鼻炎", "湿疹", "脱发", "肚子疼", "晕车", "落枕", "腿抽筋", "冻疮", "上火", "肠胃炎"),
        dev=("发烧",), test=("头疼", "牙疼"), intents=(
            intent("what_do", ("{e}怎么办", "{e}了该怎么处理", "{e}怎么缓解", "{e}有什么办法缓解", "{e}了怎么办才好")),
            intent("eat", ("{e}吃什么好", "{e}的时候应该吃什么", "{e}了吃什么食物好", "{e}适合吃什么")),
            intent("medicine", ("{e}吃什么药", "{e}吃什么药好得快", "{e}应该用什么药", "治{e}吃什么药好")),
            intent("cause", ("{e}是什么原因", "为什么会{e}", "{e}是怎么引起的", "{e}是什么原因造成的")),
            intent("recover", ("{e}多久能好", "{e}几天能好", "{e}一般要多长时间才好", "{e}要多久才能恢复")),
            intent("hospital", ("{e}要去医院吗", "{e}需要看医生吗", "{e}了用不用去医院", "{e}要不要去医院看看")),
            intent("avoid", ("{e}不能吃什么", "{e}的时候哪些东西不能吃", "{e}有什么需要忌口的", "{e}要忌口哪些食物")),
        )),
    Topic(
        "plant", train=("吊兰", "仙人掌", "月季", "兰花", "茉莉花", "君子兰", "发财树", "富贵竹", "文竹", "薄荷", "芦荟",
                        "虎皮兰", "龟背竹", "琴叶榕", "铜钱草", "常春藤", "水仙", "杜鹃", "茶花", "菊花", "玫瑰", "三角梅",
                        "风信子", "郁金香", "长寿花", "金钱树"), dev=("多肉",), test=("绿萝", "栀子花"),
        intents=(
            intent("raise", ("{e}怎么养", "{e}的养护方法", "怎样养好{e}", "养{e}要注意什么")),
            intent("water", ("{e}多久浇一次水", "{e}几天浇一次水", "给{e}浇水多久一次合适", "{e}浇水的频率是多少")),
            intent("yellow", ("{e}叶子发黄怎么办", "{e}的叶子黄了怎么处理", "{e}黄叶了怎么办", "{e}叶子变黄了该怎么救"),
                   skip=("仙人掌",)),
            intent("sun", ("{e}喜阳还是喜阴", "{e}需要晒太阳吗", "{e}能放在阳光下吗", "{e}要不要多晒太阳")),
            intent("propagate", ("{e}怎么繁殖", "如何繁殖{e}", "{e}的繁殖方法", "{e}用什么方法繁殖")),
            intent("repot", ("{e}什么时候换盆", "{e}适合什么时候换盆", "给{e}换盆选什么时间好", "{e}换盆的最佳时间")),
            intent("bedroom", ("{e}能放卧室吗", "卧室里可以养{e}吗", "{e}适合放在卧室吗", "{e}放卧室里好不好")),
        )),
    Topic(
        "app",
        train=("微信", "支付宝", "淘宝", "微博", "京东", "拼多多", "快手", "小红书", "百度网盘", "高德地图", "饿了么", "携程", "知乎",
               "爱奇艺", "腾讯视频", "优酷", "滴滴", "闲鱼", "大众点评", "唯品会", "今日头条", "喜马拉雅", "网易云音乐", "得物"),
        dev=("美团",), test=("抖音", "钉钉"), intents=(
            intent("forgot_password", ("{e}密码忘了怎么办", "{e}忘记密码怎么找回", "{e}的密码想不起来了怎么办", "怎么找回{e}密码")),
            intent("change_password", ("{e}怎么改密码", "{e}密码怎么修改", "如何修改{e}的密码", "{e}登录密码怎么改")),
            intent("cancel", ("{e}账号怎么注销", "怎么注销{e}", "{e}怎样注销账户", "如何把{e}账号注销掉")),
            intent("service", ("{e}人工客服怎么联系", "怎么找{e}的人工客服", "{e}怎么转人工客服", "{e}怎样联系人工客服")),
            intent("switch", ("{e}怎么切换账号", "{e}如何换号登录", "{e}怎样切换到另一个账号", "{e}怎么登录另一个账号")),
            intent(
                "bind_card", ("{e}怎么绑定银行卡", "{e}绑银行卡的步骤", "如何在{e}上绑定银行卡", "{e}怎么添加银行卡"),
                only=("微信", "支付宝", "淘宝", "京东", "美团", "拼多多", "饿了么", "携程", "抖音", "快手", "滴滴", "闲鱼",
                      "唯品会", "大众点评", "得物")),
            intent("notify", ("{e}消息通知怎么关", "怎么关闭{e}的消息提醒", "{e}的通知怎么关掉", "如何关掉{e}的推送")),
        )),
    Topic(
        "place", train=("银行", "医院", "超市", "派出所", "车管所", "药店", "菜市场", "健身房", "电影院", "营业厅", "商场",
                        "动物园", "体育馆", "税务局", "社保局", "公积金中心", "民政局", "游乐园", "科技馆", "美术馆", "水族馆",
                        "理发店", "加油站", "便利店", "眼镜店"), dev=("邮局",), test=("图书馆", "博物馆"), intents=(
                            intent("open", ("{e}几点开门", "{e}早上几点开门", "{e}每天几点开门", "{e}一般几点开门")),
                            intent("close", ("{e}几点关门", "{e}晚上几点关门", "{e}开到晚上几点", "{e}一般几点关门")),
                            intent("weekend", ("{e}周末开门吗", "{e}星期天开门吗", "周六日{e}开门吗", "{e}双休日开不开门")),
                            intent("nearest", ("附近有{e}吗", "离我最近的{e}在哪", "这附近哪里有{e}", "最近的{e}在哪里")),
                            intent("holiday",
                                   ("{e}国庆节放假吗", "国庆期间{e}开门吗", "{e}国庆放不放假", "国庆节{e}开不开门")),
                            intent("reserve", ("去{e}要预约吗", "{e}需要提前预约吗", "去{e}用不用预约", "{e}要提前预约吗"),
                                   skip=("超市", "药店", "菜市场", "商场", "电影院", "加油站", "便利店", "眼镜店")),
                        )),
)

# The hand-written pairs of the first version of this sample, kept as they were.
HANDWRITTEN = {
    "train": (
        ("今天天气怎么样", "今天的天气如何", 1),
        ("明天会下雨吗", "明天有没有雨", 1),
        ("怎么做红烧肉", "红烧肉的做法是什么", 1),
        ("这本书好看吗", "这本书值得读吗", 1),
        ("附近有地铁站吗", "这附近哪里有地铁", 1),
        ("手机充不进电怎么办", "手机无法充电怎么解决", 1),
        ("怎样学好英语", "如何才能学好英语", 1),
        ("哪里可以买到火车票", "火车票在哪里买", 1),
        ("你叫什么名字", "你的名字是什么", 1),
        ("这个多少钱", "这个东西什么价格", 1),
        ("如何减肥最有效", "最有效的减肥方法是什么", 1),
        ("电脑开不了机怎么办", "电脑无法开机怎么处理", 1),
        ("北京有什么好玩的地方", "北京哪些地方值得去玩", 1),
        ("猫咪不吃东西怎么办", "小猫不肯吃饭怎么回事", 1),
        ("怎么注册一个邮箱", "如何申请电子邮箱", 1),
        ("学开车要多久", "考驾照需要多长时间", 1),
        ("晚上睡不着怎么办", "失眠了该怎么办", 1),
        ("苹果可以放冰箱吗", "苹果能不能放在冰箱里", 1),
        ("银行几点开门", "银行早上几点上班", 1),
        ("怎么修改登录密码", "登录密码如何更改", 1),
        ("这首歌叫什么名字", "这首歌的歌名是什么", 1),
        ("去机场怎么走", "到机场的路线是什么", 1),
        ("牛奶什么时候喝最好", "什么时间喝牛奶比较好", 1),
        ("周末有什么电影推荐", "周末可以看什么电影", 1),
        ("今天天气怎么样", "今天几号", 0),
        ("明天会下雨吗", "明天要上班吗", 0),
        ("怎么做红烧肉", "红烧肉热量高吗", 0),
        ("这本书好看吗", "这本书多少页", 0),
        ("附近有地铁站吗", "附近有医院吗", 0),
        ("手机充不进电怎么办", "手机屏幕碎了怎么办", 0),
        ("怎样学好英语", "英语考试什么时候报名", 0),
        ("哪里可以买到火车票", "火车票可以退吗", 0),
        ("你叫什么名字", "你今年多大了", 0),
        ("这个多少钱", "这个是什么颜色", 0),
        ("如何减肥最有效", "减肥可以吃香蕉吗", 0),
        ("电脑开不了机怎么办", "电脑用什么牌子好", 0),
        ("北京有什么好玩的地方", "北京冬天冷不冷", 0),
        ("猫咪不吃东西怎么办", "猫咪能活多少年", 0),
        ("怎么注册一个邮箱", "邮箱满了怎么清理", 0),
        ("学开车要多久", "学开车要多少钱", 0),
        ("晚上睡不着怎么办", "晚上吃什么好", 0),
        ("苹果可以放冰箱吗", "苹果有什么营养", 0),
        ("银行几点开门", "银行卡丢了怎么办", 0),
        ("怎么修改登录密码", "忘记支付密码怎么办", 0),
        ("这首歌叫什么名字", "这首歌是谁唱的", 0),
        ("去机场怎么走", "机场有免费无线网吗", 0),
        ("牛奶什么时候喝最好", "牛奶过期了还能喝吗", 0),
        ("周末有什么电影推荐", "电影票怎么退", 0),
    ),
    "dev": (
        ("怎么煮米饭好吃", "米饭怎么煮才香", 1),
        ("火车上可以带水果吗", "坐火车能带水果吗", 1),
        ("孩子发烧怎么办", "小孩发烧了该怎么处理", 1),
        ("怎么养多肉植物", "多肉植物的养护方法", 1),
        ("哪里可以学游泳", "游泳在哪里能学", 1),
        ("快递几天能到", "快递一般要几天送到", 1),
        ("打印机怎么连接电脑", "电脑如何连上打印机", 1),
        ("感冒了吃什么好", "感冒时应该吃什么", 1),
        ("怎么煮米饭好吃", "米饭放多久会坏", 0),
        ("火车上可以带水果吗", "火车上几点熄灯", 0),
        ("孩子发烧怎么办", "孩子几岁上小学", 0),
        ("怎么养多肉植物", "多肉植物多少钱一盆", 0),
        ("哪里可以学游泳", "游泳能减肥吗", 0),
        ("快递几天能到", "快递丢了找谁", 0),
        ("打印机怎么连接电脑", "打印机墨盒多少钱", 0),
        ("感冒了吃什么好", "感冒会传染吗", 0),
    ),
    "test": (
        ("怎么查话费余额", "如何查询手机话费", 1),
        ("飞机上能带充电宝吗", "充电宝可以带上飞机吗", 1),
        ("狗狗掉毛严重怎么办", "小狗掉毛很厉害怎么解决", 1),
        ("怎么做蛋炒饭", "蛋炒饭怎么做", 1),
        ("哪个季节去云南最好", "什么时候去云南旅游合适", 1),
        ("怎么把照片传到电脑上", "照片如何导入电脑", 1),
        ("头疼是什么原因", "为什么会头疼", 1),
        ("怎么学做蛋糕", "蛋糕的做法有哪些", 1),
        ("怎么查话费余额", "话费怎么充值", 0),
        ("飞机上能带充电宝吗", "飞机上有饭吃吗", 0),
        ("狗狗掉毛严重怎么办", "狗狗打疫苗多少钱", 0),
        ("怎么做蛋炒饭", "蛋炒饭用什么米", 0),
        ("哪个季节去云南最好", "云南有哪些特产", 0),
        ("怎么把照片传到电脑上", "照片怎么打印出来", 0),
        ("头疼是什么原因", "头疼吃什么药", 0),
        ("怎么学做蛋糕", "蛋糕能放几天", 0),
    ),
}

DEFAULT_SIZES = {"train": 10000, "dev": 300, "test": 300}


class SampleError(ValueError):
    """The topic tables are inconsistent (a bug in this file) or a size is bad."""


def _applies(item, entity):
    only, skip = item.scope
    if only is not None and entity not in only:
        return False
    return not (skip is not None and entity in skip)


def _all_entities(topic):
    return topic.train + topic.dev + topic.test


def held_out_entities(split):
    """Entities that occur only in ``split`` ("dev" or "test"), in table order."""
    return tuple(e for topic in TOPICS for e in getattr(topic, split))


def check_tables():
    """Checks the topic tables; returns {sentence: (topic, entity, intent)}.

    Raises:
      SampleError: an entity listed twice, an entity inside the name of
        another entity of its topic (their questions would be confusable), a
        held-out entity inside any other entity, template or hand-written
        train pair (it would not be unseen), an only/skip entry that is not an
        entity of its topic, a template without exactly one ``{e}``, an intent
        with fewer than two templates, or one sentence produced by two
        different (entity, intent) questions.
    """
    seen = {}
    everything = [e for topic in TOPICS for e in _all_entities(topic)]
    for topic in TOPICS:
        entities = _all_entities(topic)
        for entity in entities:
            if entity in seen:
                raise SampleError("entity %s listed twice (%s, %s)" %
                                  (entity, seen[entity], topic.name))
            seen[entity] = topic.name
        for item in topic.intents:
            for names in item.scope:
                for name in names or ():
                    if name not in entities:
                        raise SampleError("%s/%s: %s is not an entity of the topic" %
                                          (topic.name, item.name, name))
            if len(item.templates) < 2:
                raise SampleError("%s/%s: needs two templates or more" % (topic.name, item.name))
            for template in item.templates:
                if template.count("{e}") != 1:
                    raise SampleError("%s/%s: %r needs exactly one {e}" %
                                      (topic.name, item.name, template))
    for topic in TOPICS:
        for a in _all_entities(topic):
            for b in _all_entities(topic):
                if a != b and a in b:
                    raise SampleError("entity %s is part of entity %s" % (a, b))
    train_texts = [t for a, b, _ in HANDWRITTEN["train"] for t in (a, b)]
    train_texts += [t for topic in TOPICS for item in topic.intents for t in item.templates]
    for held_out in held_out_entities("dev") + held_out_entities("test"):
        for text in train_texts + everything:
            if held_out != text and held_out in text:
                raise SampleError("held-out entity %s occurs in %s" % (held_out, text))
    sentences = {}
    for topic in TOPICS:
        for entity in _all_entities(topic):
            for item in topic.intents:
                if not _applies(item, entity):
                    continue
                for template in item.templates:
                    text = template.format(e=entity)
                    key = (topic.name, entity, item.name)
                    if sentences.setdefault(text, key) != key:
                        raise SampleError("%s is produced by %s and %s" %
                                          (text, sentences[text], key))
    return sentences


class _PairSet(object):
    """Pairs of one split, without duplicates (in either order) across all splits."""

    def __init__(self, used):
        self.used = used
        self.pairs = []

    def add(self, rng, a, b, label):
        if a == b:
            return False
        key = (min(a, b), max(a, b))
        if key in self.used:
            return False
        self.used.add(key)
        if rng.random() < 0.5:
            a, b = b, a
        self.pairs.append((a, b, label))
        return True


def _take(rng, candidates, count, make_pair, pair_set):
    """Adds up to ``count`` pairs made from shuffled ``candidates``; returns how many."""
    candidates = list(candidates)
    rng.shuffle(candidates)
    added = 0
    for candidate in candidates:
        if added >= count:
            break
        a, b, label = make_pair(candidate)
        if pair_set.add(rng, a, b, label):
            added += 1
    return added


def generate_split(split, size, rng, used):
    """The generated pairs of one split.

    Args:
      split: "train", "dev" or "test".
      size: number of pairs to generate.
      rng: a random.Random.
      used: set of (a, b) keys already taken by any split (updated).

    Returns:
      list of (text_a, text_b, label).

    Raises:
      SampleError: when the tables cannot give ``size`` distinct pairs.
    """
    # Entities whose questions this split is about, and those they may be
    # contrasted with (never an entity held out for the other split).
    focus = []
    partners = {}
    for topic in TOPICS:
        own = getattr(topic, split)
        focus.extend((topic, e) for e in own)
        partners[topic.name] = topic.train + (own if split != "train" else ())

    def fill(item, entity, template_index=None):
        templates = item.templates
        if template_index is None:
            template_index = rng.randrange(len(templates))
        return templates[template_index].format(e=entity)

    positives, same_entity, same_intent = [], [], []
    for topic, entity in focus:
        intents = [item for item in topic.intents if _applies(item, entity)]
        for item in intents:
            for i, j in itertools.combinations(range(len(item.templates)), 2):
                positives.append((item, entity, i, j))
            for other in partners[topic.name]:
                if other == entity or not _applies(item, other):
                    continue
                if split == "train" and other < entity:
                    continue  # each unordered train pair once
                same_intent.append((item, entity, other))
        for first, second in itertools.combinations(intents, 2):
            same_entity.append((first, second, entity))

    pair_set = _PairSet(used)
    n_positive = int(round(size * POSITIVE_SHARE))
    n_same_entity = int(round(size * SAME_ENTITY_SHARE))
    n_same_intent = int(round(size * SAME_INTENT_SHARE))
    n_easy = size - n_positive - n_same_entity - n_same_intent

    def positive(c):
        item, entity, i, j = c
        return fill(item, entity, i), fill(item, entity, j), 1

    def other_intent(c):
        first, second, entity = c
        return fill(first, entity), fill(second, entity), 0

    def other_entity(c):
        item, entity, other = c
        if rng.random() < SAME_TEMPLATE_SHARE:
            index = rng.randrange(len(item.templates))
            return fill(item, entity, index), fill(item, other, index), 0
        return fill(item, entity), fill(item, other), 0

    counts = [
        _take(rng, positives, n_positive, positive, pair_set),
        _take(rng, same_entity, n_same_entity, other_intent, pair_set),
        _take(rng, same_intent, n_same_intent, other_entity, pair_set),
    ]
    wanted = [n_positive, n_same_entity, n_same_intent]
    for kind, got, want in zip(("positive", "same-entity", "same-intent"), counts, wanted):
        if got < want:
            raise SampleError("%s: only %d distinct %s pairs for %d wanted; ask for fewer pairs" %
                              (split, got, kind, want))

    # Easy negatives: a question of this split against one of another topic.
    all_partners = [(topic, e) for topic in TOPICS for e in partners[topic.name]]
    added, attempts = 0, 0
    while added < n_easy:
        attempts += 1
        if attempts > 100 * (n_easy + 1):
            raise SampleError("%s: cannot find %d distinct easy negatives" % (split, n_easy))
        topic, entity = focus[rng.randrange(len(focus))]
        other_topic, other = all_partners[rng.randrange(len(all_partners))]
        if other_topic.name == topic.name:
            continue
        first = [item for item in topic.intents if _applies(item, entity)]
        second = [item for item in other_topic.intents if _applies(item, other)]
        a = fill(first[rng.randrange(len(first))], entity)
        b = fill(second[rng.randrange(len(second))], other)
        if pair_set.add(rng, a, b, 0):
            added += 1
    pairs = pair_set.pairs
    rng.shuffle(pairs)
    return pairs


def make_sample(random_seed=12345, sizes=None):
    """All three splits: {split: [(text_a, text_b, label), ...]}, hand-written pairs first.

    Args:
      random_seed: seed of every random choice.
      sizes: {split: number of generated pairs} (default DEFAULT_SIZES).

    Raises:
      SampleError: on inconsistent tables or sizes that cannot be met.
    """
    sizes = dict(DEFAULT_SIZES, **(sizes or {}))
    for split in SPLITS:
        if sizes[split] < 0:
            raise SampleError("the number of %s pairs must be >= 0, got %d" % (split, sizes[split]))
    check_tables()
    used = set()
    for split in SPLITS:
        for a, b, _ in HANDWRITTEN[split]:
            used.add((min(a, b), max(a, b)))
    result = {}
    for index, split in enumerate(SPLITS):
        rng = random.Random(random_seed * 10 + index)
        result[split] = list(HANDWRITTEN[split]) + generate_split(split, sizes[split], rng, used)
    return result


def pretraining_documents(random_seed=12345, lines_per_document=12):
    """Unlabelled pretraining text about the training entities only.

    FAQ category pages: per intent, pages of up to ``lines_per_document``
    questions asking it about different training entities (each entity twice,
    in two different templates). No dev/test entity occurs. With
    next-sentence prediction, "B continues A's page" then means "asks the same
    kind of thing, whatever the entity", the part of the pair task that is
    hard to learn from the pairs alone.

    Returns:
      list of documents, each a list of questions, in a seeded random order.
    """
    rng = random.Random(random_seed * 10 + len(SPLITS))
    documents = []
    for topic in TOPICS:
        for item in topic.intents:
            lines = []
            for entity in topic.train:
                if _applies(item, entity):
                    for template in rng.sample(item.templates, 2):
                        lines.append(template.format(e=entity))
            rng.shuffle(lines)
            for start in range(0, len(lines), lines_per_document):
                documents.append(lines[start:start + lines_per_document])
    rng.shuffle(documents)
    return documents


def write_lines(path, lines):
    """Writes text lines (UTF-8, \\n) atomically (script_utils.write_text)."""
    script_utils.write_text(path, u"".join(line + u"\n" for line in lines))


def write_split(path, pairs):
    """Writes ``text_a<TAB>text_b<TAB>label`` lines (see write_lines)."""
    write_lines(path, [u"%s\t%s\t%d" % (a, b, label) for a, b, label in pairs])


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] + " Generated pairs follow the 48/16/16 "
        "hand-written ones; dev/test entities are held out of train. Also writes "
        "%s, unlabelled pretraining text about the training entities." % PRETRAINING_FILE,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument(
        "--output_dir", default=DEFAULT_OUTPUT_DIR,
        help="Directory for train.txt, dev.txt, test.txt and %s (created if "
        "missing)." % PRETRAINING_FILE)
    parser.add_argument(
        "--random_seed", type=int, default=12345,
        help="Seed of every random choice: the same seed gives byte-identical files.")
    for split in SPLITS:
        parser.add_argument("--%s_pairs" % split, type=int, default=DEFAULT_SIZES[split],
                            help="Generated %s pairs, besides the hand-written ones." % split)
    args = parser.parse_args(argv)
    try:
        sample = make_sample(args.random_seed, {s: getattr(args, "%s_pairs" % s) for s in SPLITS})
    except SampleError as e:
        sys.stderr.write("error: %s\n" % e)
        return 1
    try:
        if not os.path.isdir(args.output_dir):
            os.makedirs(args.output_dir)
        for split in SPLITS:
            write_split(os.path.join(args.output_dir, "%s.txt" % split), sample[split])
        corpus = os.path.join(args.output_dir, PRETRAINING_FILE)
        documents = pretraining_documents(args.random_seed)
        write_lines(corpus, [line for document in documents for line in document + [u""]])
    except (IOError, OSError) as e:
        sys.stderr.write("error: %s: %s\n" %
                         (getattr(e, "filename", None) or args.output_dir, e.strerror or e))
        return 1
    for split in SPLITS:
        pairs = sample[split]
        path = os.path.join(args.output_dir, "%s.txt" % split)
        positives = sum(label for _, _, label in pairs)
        print("%s: %d pairs (%d hand-written), %d positive, %d negative" %
              (path, len(pairs), len(HANDWRITTEN[split]), positives, len(pairs) - positives))
    print("%s: %d documents, %d questions (training entities only; no labels)" %
          (corpus, len(documents), sum(len(d) for d in documents)))
    for split in ("dev", "test"):
        print("%s-only entities: %s" % (split, " ".join(held_out_entities(split))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
